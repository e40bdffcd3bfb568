import pg from "pg";
import {
  type CommittedOffset,
  type Durability,
  type LoadSink,
  type StoredRecord,
  serialised,
} from "./durability";

/**
 * PostgreSQL durability: three tables per store, named from `table` (default "eventlog"):
 *   <table>_topics   (topic, partitions)
 *   <table>_records  (topic, partition, offset, key, value bytea, headers jsonb, ts) — PK (topic, partition, offset)
 *   <table>_offsets  (group_id, topic, partition, offset) — committed group offsets
 * A write resolves after its transaction committed (synchronous_commit as configured on the server).
 * One process at a time per store: the store holds a session advisory lock on its table name.
 */
export interface PostgresDurabilityOptions {
  url: string;
  table?: string;
}

const LOAD_PAGE = 5_000;

export function postgresDurability(opts: PostgresDurabilityOptions): Durability {
  const table = opts.table ?? "eventlog";
  if (!/^[a-z_][a-z0-9_]{0,40}$/.test(table)) throw new Error(`invalid table name: ${table}`);
  const topics = `${table}_topics`;
  const records = `${table}_records`;
  const offsets = `${table}_offsets`;
  // One connection: writes are serialised by the adapter anyway, and it holds the advisory lock.
  let client: pg.Client | undefined;
  // Appends and offset commits come from independent callers: one statement at a time on the connection.
  const query = serialised(async (sql: string, params: unknown[]) => {
    if (!client) throw new Error("postgres durability is not open");
    await client.query(sql, params);
  });

  return {
    kind: "postgres",
    async load(sink: LoadSink) {
      client = new pg.Client({ connectionString: opts.url });
      client.on("error", () => {}); // surfaced by the next query
      await client.connect();
      const locked = await client.query<{ ok: boolean }>("select pg_try_advisory_lock(hashtext($1)) as ok", [
        `excraft-eventlog:${table}`,
      ]);
      if (!locked.rows[0]?.ok) {
        await client.end();
        client = undefined;
        throw new Error(`event log store "${table}" is open in another session`);
      }
      await client.query(`
        create table if not exists ${topics} (
          topic text primary key,
          partitions int not null check (partitions > 0));
        create table if not exists ${records} (
          topic text not null,
          partition int not null,
          "offset" bigint not null,
          key text not null,
          value bytea not null,
          headers jsonb not null,
          ts bigint not null,
          primary key (topic, partition, "offset"));
        create table if not exists ${offsets} (
          group_id text not null,
          topic text not null,
          partition int not null,
          "offset" bigint not null,
          primary key (group_id, topic, partition));`);
      const t = await client.query<{ topic: string; partitions: number }>(
        `select topic, partitions from ${topics} order by topic`,
      );
      for (const row of t.rows) sink.topic(row.topic, row.partitions);
      // Keyset pagination keeps memory bounded while loading a large log.
      let after: [string, number, string] = ["", -1, "-1"];
      for (;;) {
        const page = await client.query<{
          topic: string;
          partition: number;
          offset: string;
          key: string;
          value: Buffer;
          headers: Record<string, string>;
          ts: string;
        }>(
          `select topic, partition, "offset", key, value, headers, ts from ${records}
           where (topic, partition, "offset") > ($1, $2, $3::bigint)
           order by topic, partition, "offset" limit ${LOAD_PAGE}`,
          after,
        );
        for (const row of page.rows) {
          sink.record({
            topic: row.topic,
            partition: row.partition,
            offset: BigInt(row.offset),
            key: row.key,
            value: new Uint8Array(row.value),
            headers: row.headers,
            timestamp: Number(row.ts),
          });
        }
        if (page.rows.length < LOAD_PAGE) break;
        const last = page.rows[page.rows.length - 1]!;
        after = [last.topic, last.partition, last.offset];
      }
      const o = await client.query<{ group_id: string; topic: string; partition: number; offset: string }>(
        `select group_id, topic, partition, "offset" from ${offsets}`,
      );
      for (const row of o.rows) {
        sink.committed({
          groupId: row.group_id,
          topic: row.topic,
          partition: row.partition,
          offset: BigInt(row.offset),
        });
      }
    },
    async createTopic(name, partitions) {
      await query(`insert into ${topics} (topic, partitions) values ($1, $2) on conflict do nothing`, [
        name,
        partitions,
      ]);
    },
    async append(batch: StoredRecord[]) {
      if (batch.length === 0) return;
      // One statement = one transaction: all or nothing.
      await query(
        `insert into ${records} (topic, partition, "offset", key, value, headers, ts)
         select * from unnest($1::text[], $2::int[], $3::bigint[], $4::text[], $5::bytea[], $6::jsonb[], $7::bigint[])`,
        [
          batch.map((r) => r.topic),
          batch.map((r) => r.partition),
          batch.map((r) => r.offset.toString()),
          batch.map((r) => r.key),
          batch.map((r) => Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength)),
          batch.map((r) => JSON.stringify(r.headers)),
          batch.map((r) => String(r.timestamp)),
        ],
      );
    },
    async commit(list: CommittedOffset[]) {
      if (list.length === 0) return;
      await query(
        `insert into ${offsets} (group_id, topic, partition, "offset")
         select * from unnest($1::text[], $2::text[], $3::int[], $4::bigint[])
         on conflict (group_id, topic, partition) do update set "offset" = excluded."offset"`,
        [
          list.map((o) => o.groupId),
          list.map((o) => o.topic),
          list.map((o) => o.partition),
          list.map((o) => o.offset.toString()),
        ],
      );
    },
    async close() {
      await query("select 1", []).catch(() => {}); // waits for statements in progress
      const c = client;
      client = undefined;
      await c?.end(); // ends the session, which releases the advisory lock
    },
  };
}
