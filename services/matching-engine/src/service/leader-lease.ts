/**
 * "Exactly one active engine per shard". The lease is a PostgreSQL session advisory lock on the
 * shard: it is held as long as the leader's connection lives, so a crashed leader releases it at
 * once and a standby takes over. Each acquisition bumps the shard's epoch; the epoch goes into
 * every output event and consumers drop events from an older epoch (a fenced-off zombie).
 * If the leader loses its database session it must stop writing: `onLost` tells it.
 */
import pg from "pg";

const LOCK_NAMESPACE = 0x45584352; // "EXCR"

export interface LeaderLease {
  readonly epoch: bigint;
  release(): Promise<void>;
}

export interface AcquireOptions {
  databaseUrl: string;
  shard: number;
  /** Called when the lock's session ends while held (the caller must stop processing). */
  onLost: (error: Error) => void;
  /** How often a standby retries (default 250 ms). */
  pollMs?: number;
  signal?: AbortSignal;
  onStandby?: () => void;
}

export async function migrateLeaseTable(pool: pg.Pool): Promise<void> {
  await pool.query(
    "create table if not exists engine_epochs (shard integer primary key, epoch bigint not null, holder text not null, acquired_at timestamptz not null default now())",
  );
}

/** Waits (as a standby) until this process holds the shard, then returns the new epoch. */
export async function acquireLeaderLease(options: AcquireOptions): Promise<LeaderLease> {
  const client = new pg.Client({
    connectionString: options.databaseUrl,
    application_name: `engine-shard-${options.shard}`,
  });
  await client.connect();
  let released = false;
  client.on("error", (error) => {
    if (!released) options.onLost(error);
  });
  client.on("end", () => {
    if (!released) options.onLost(new Error("leader lease session ended"));
  });
  try {
    let announcedStandby = false;
    for (;;) {
      if (options.signal?.aborted) throw new Error("lease acquisition aborted");
      const result = await client.query<{ locked: boolean }>(
        "select pg_try_advisory_lock($1, $2) as locked",
        [LOCK_NAMESPACE, options.shard],
      );
      if (result.rows[0]?.locked === true) break;
      if (!announcedStandby) {
        announcedStandby = true;
        options.onStandby?.();
      }
      await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 250));
    }
    const epochRow = await client.query<{ epoch: string }>(
      `insert into engine_epochs (shard, epoch, holder) values ($1, 1, $2)
       on conflict (shard) do update set epoch = engine_epochs.epoch + 1, holder = $2, acquired_at = now()
       returning epoch`,
      [options.shard, `pid ${process.pid}`],
    );
    const epoch = BigInt(epochRow.rows[0]!.epoch);
    return {
      epoch,
      async release() {
        released = true;
        await client.end().catch(() => {});
      },
    };
  } catch (error) {
    released = true;
    await client.end().catch(() => {});
    throw error;
  }
}
