import pg from "pg";
import type { Logger } from "./logger";
import type { ReadinessCheck } from "./readiness";

export interface PostgresPoolOptions {
  /** postgres://user:password@host:port/database */
  url: string;
  /** Connections in the pool (default 10). */
  max?: number;
  /** Server-side `statement_timeout` for every query, in ms (default 5 000). */
  statementTimeoutMs?: number;
  /** Time to wait for a connection, in ms (default 5 000). */
  connectionTimeoutMs?: number;
  /** Idle connections are closed after this many ms (default 30 000). */
  idleTimeoutMs?: number;
  /** Shown in pg_stat_activity. */
  applicationName?: string;
  logger?: Logger;
}

/** A pg Pool with bounded size and a statement timeout; idle-client errors are logged, not thrown. */
export function createPostgresPool(options: PostgresPoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.max ?? 10,
    statement_timeout: options.statementTimeoutMs ?? 5_000,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 5_000,
    idleTimeoutMillis: options.idleTimeoutMs ?? 30_000,
    ...(options.applicationName ? { application_name: options.applicationName } : {}),
  });
  pool.on("error", (error) => options.logger?.error({ err: error }, "postgres idle client error"));
  return pool;
}

/** Ready when the pool can run `select 1`. */
export function postgresReadiness(pool: pg.Pool): ReadinessCheck {
  return async () => {
    await pool.query("select 1");
  };
}

export interface TransactionOptions {
  /** `set local synchronous_commit = off`: for writes nobody waits on (they may be lost in a crash). */
  asynchronousCommit?: boolean;
}

/**
 * Runs `work` in one transaction on a pooled connection: commit when it returns, rollback when it
 * throws (the error is rethrown), and the connection goes back to the pool either way.
 */
export async function withTransaction<T>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query("begin");
    if (options.asynchronousCommit) await client.query("set local synchronous_commit = off");
    const result = await work(client);
    await client.query("commit");
    return result;
  } catch (error) {
    await client.query("rollback").catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}
