import pg from "pg";
import type { CommittedOffset, Durability, LoadSink, StoredRecord } from "./durability";

type Write =
  | { kind: "append"; records: StoredRecord[] }
  | { kind: "commit"; offsets: CommittedOffset[] }
  | { kind: "sql"; sql: string; params: unknown[] };

interface QueuedWrite {
  write: Write;
  resolve(): void;
  reject(error: unknown): void;
}

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
  // Appends and offset commits come from independent callers (the publisher, every consumer loop).
  // They queue up while a write is in flight and the next write takes them all in one statement: one
  // transaction and one WAL flush for a publish round plus every offset commit that came with it.
  let queue: QueuedWrite[] = [];
  let draining = false;
  const enqueue = (write: Write): Promise<void> =>
    new Promise((resolve, reject) => {
      queue.push({ write, resolve, reject });
      if (!draining) {
        draining = true;
        void drain();
      }
    });
  const run = async (sql: string, params: unknown[]) => {
    if (!client) throw new Error("postgres durability is not open");
    await client.query(sql, params);
  };
  const settle = async (items: QueuedWrite[], sql: string, params: unknown[]) => {
    try {
      await run(sql, params);
      for (const item of items) item.resolve();
    } catch (error) {
      for (const item of items) item.reject(error);
    }
  };
  async function drain(): Promise<void> {
    while (queue.length > 0) {
      const round = queue;
      queue = [];
      // Statements other than appends and commits (createTopic, close) keep their place in the order.
      let i = 0;
      while (i < round.length) {
        const item = round[i]!;
        if (item.write.kind === "sql") {
          await settle([item], item.write.sql, item.write.params);
          i++;
          continue;
        }
        let j = i;
        while (j < round.length && round[j]!.write.kind !== "sql") j++;
        const group = round.slice(i, j);
        await writeGroup(group).catch((error) => {
          for (const item of group) item.reject(error); // settled ones stay as they are
        });
        i = j;
      }
    }
    draining = false;
  }
  /** Appends (in call order) and offset commits (the last per group partition) as one statement. */
  async function writeGroup(items: QueuedWrite[]): Promise<void> {
    const appends = items.filter((q) => q.write.kind === "append");
    const commits = items.filter((q) => q.write.kind === "commit");
    const records = appends.flatMap((q) => (q.write as { records: StoredRecord[] }).records);
    const latest = new Map<string, CommittedOffset>();
    for (const q of commits) {
      for (const o of (q.write as { offsets: CommittedOffset[] }).offsets) {
        latest.set(`${o.groupId}\u0000${o.topic}\u0000${o.partition}`, o);
      }
    }
    const offsetList = [...latest.values()];
    if (records.length > 0 && offsetList.length > 0) {
      try {
        await run(
          `with a as (${appendSql("$1", "$2", "$3", "$4", "$5", "$6", "$7")} returning 1),
                c as (${commitSql("$8", "$9", "$10", "$11")} returning 1)
           select (select count(*) from a) as appended, (select count(*) from c) as committed`,
          [...appendParams(records), ...commitParams(offsetList)],
        );
        for (const q of items) q.resolve();
        return;
      } catch {
        // One bad write must not fail the others: each kind on its own, so only the failing one rejects.
      }
    }
    if (records.length > 0) {
      await settle(appends, appendSql("$1", "$2", "$3", "$4", "$5", "$6", "$7"), appendParams(records));
    } else for (const q of appends) q.resolve();
    if (offsetList.length > 0) {
      await settle(commits, commitSql("$1", "$2", "$3", "$4"), commitParams(offsetList));
    } else for (const q of commits) q.resolve();
  }
  const appendSql = (...p: string[]) =>
    `insert into ${records} (topic, partition, "offset", key, value, headers, ts)
     select * from unnest(${p[0]}::text[], ${p[1]}::int[], ${p[2]}::bigint[], ${p[3]}::text[], ${p[4]}::bytea[], ${p[5]}::jsonb[], ${p[6]}::bigint[])`;
  const appendParams = (batch: StoredRecord[]) => [
    batch.map((r) => r.topic),
    batch.map((r) => r.partition),
    batch.map((r) => r.offset.toString()),
    batch.map((r) => r.key),
    batch.map((r) => Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength)),
    batch.map((r) => JSON.stringify(r.headers)),
    batch.map((r) => String(r.timestamp)),
  ];
  const commitSql = (...p: string[]) =>
    `insert into ${offsets} (group_id, topic, partition, "offset")
     select * from unnest(${p[0]}::text[], ${p[1]}::text[], ${p[2]}::int[], ${p[3]}::bigint[])
     on conflict (group_id, topic, partition) do update set "offset" = excluded."offset"`;
  const commitParams = (list: CommittedOffset[]) => [
    list.map((o) => o.groupId),
    list.map((o) => o.topic),
    list.map((o) => o.partition),
    list.map((o) => o.offset.toString()),
  ];

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
      await enqueue({
        kind: "sql",
        sql: `insert into ${topics} (topic, partitions) values ($1, $2) on conflict do nothing`,
        params: [name, partitions],
      });
    },
    async append(batch: StoredRecord[]) {
      if (batch.length === 0) return;
      // One statement = one transaction: all or nothing (with the offset commits queued meanwhile).
      await enqueue({ kind: "append", records: batch });
    },
    async commit(list: CommittedOffset[]) {
      if (list.length === 0) return;
      await enqueue({ kind: "commit", offsets: list });
    },
    async close() {
      await enqueue({ kind: "sql", sql: "select 1", params: [] }).catch(() => {}); // waits for writes in progress
      const c = client;
      client = undefined;
      await c?.end(); // ends the session, which releases the advisory lock
    },
  };
}
