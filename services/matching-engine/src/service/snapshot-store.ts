/**
 * Engine snapshots in PostgreSQL (the engine owns this table). A snapshot is written only after
 * every event it covers was durably published, so restoring it never skips output; the commands
 * after it are replayed from orders.v1 and re-emit the same sequences, which consumers drop.
 */
import { promisify } from "node:util";
import { gunzipSync, gzip } from "node:zlib";
import type pg from "pg";
import type { ShardState } from "./shard-processor.ts";

const SCHEMA = `
create table if not exists engine_snapshots (
  shard integer not null,
  next_input_offset bigint not null,
  epoch bigint not null,
  created_at timestamptz not null default now(),
  state bytea not null,
  primary key (shard, next_input_offset)
)`;

const gzipAsync = promisify(gzip);

export class SnapshotStore {
  constructor(
    private readonly pool: pg.Pool,
    /** Older snapshots beyond this many are deleted. */
    private readonly keep = 3,
  ) {}

  async migrate(): Promise<void> {
    await this.pool.query(SCHEMA);
  }

  /**
   * Stores a snapshot. The state is serialized before the first await, so the caller may go on
   * changing the live state it came from; compression runs on the libuv thread pool.
   */
  async save(state: ShardState, epoch: bigint): Promise<number> {
    const json = Buffer.from(JSON.stringify(state));
    const bytes = await gzipAsync(json);
    await this.pool.query(
      `insert into engine_snapshots (shard, next_input_offset, epoch, state) values ($1, $2, $3, $4)
       on conflict (shard, next_input_offset) do nothing`,
      [state.shard, state.nextInputOffset, epoch.toString(), bytes],
    );
    await this.pool.query(
      `delete from engine_snapshots where shard = $1 and next_input_offset not in
         (select next_input_offset from engine_snapshots where shard = $1 order by next_input_offset desc limit $2)`,
      [state.shard, this.keep],
    );
    return bytes.length;
  }

  async latest(shard: number): Promise<ShardState | undefined> {
    const result = await this.pool.query<{ state: Buffer }>(
      "select state from engine_snapshots where shard = $1 order by next_input_offset desc limit 1",
      [shard],
    );
    const row = result.rows[0];
    if (row === undefined) return undefined;
    const state = JSON.parse(gunzipSync(row.state).toString("utf8")) as ShardState;
    if (state.version !== 1) throw new Error(`unsupported engine snapshot version ${String(state.version)}`);
    return state;
  }
}
