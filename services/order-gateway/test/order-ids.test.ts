/**
 * Order ids from the sequence in blocks: unique under a burst of concurrent takes, with one
 * sequence call per block (not one per waiting order), and unique across a restart (a new allocator
 * on the same sequence).
 */
import { createPostgresPool } from "@excraft/platform";
import { startPostgres, type TestPostgres } from "@excraft/testkit";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OrderIdAllocator } from "../src/orders/order-ids.ts";
import { logger } from "./support/harness.ts";

describe("OrderIdAllocator", () => {
  let postgres: TestPostgres;
  let pool: pg.Pool;
  let sequenceCalls = 0;

  beforeAll(async () => {
    postgres = await startPostgres();
    pool = createPostgresPool({ url: await postgres.createDatabase("order_ids"), logger });
    const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
    (pool as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      if (typeof args[0] === "string" && args[0].includes("nextval")) sequenceCalls++;
      return query(...args);
    };
  }, 120_000);

  afterAll(async () => {
    await pool?.end();
    await postgres?.stop();
  });

  it("hands out unique ids to concurrent callers with one sequence call per block", async () => {
    const ids = new OrderIdAllocator(pool, 100);
    await ids.migrate();
    sequenceCalls = 0;
    const taken = await Promise.all(Array.from({ length: 1_000 }, () => ids.take()));
    expect(new Set(taken).size).toBe(1_000);
    // 1 000 ids from blocks of 100: 10 blocks, plus at most one block fetched ahead.
    expect(sequenceCalls).toBeGreaterThanOrEqual(10);
    expect(sequenceCalls).toBeLessThanOrEqual(11);

    // A steady stream: the next block is fetched ahead, so takes keep coming from memory.
    const more: bigint[] = [];
    for (let i = 0; i < 350; i++) more.push(await ids.take());
    expect(new Set([...taken, ...more]).size).toBe(1_350);

    // Another allocator on the same sequence (a restart or a second replica) never repeats an id.
    const restarted = new OrderIdAllocator(pool, 100);
    const after = await Promise.all(Array.from({ length: 250 }, () => restarted.take()));
    expect(new Set([...taken, ...more, ...after]).size).toBe(1_600);
  });

  it("a failed block fetch fails the waiting callers, and the next take fetches again", async () => {
    const ids = new OrderIdAllocator(pool, 100);
    await pool.query("alter sequence order_id_seq rename to order_id_seq_moved");
    try {
      const results = await Promise.allSettled([ids.take(), ids.take()]);
      expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    } finally {
      await pool.query("alter sequence order_id_seq_moved rename to order_id_seq");
    }
    const id = await ids.take();
    expect(id).toBeGreaterThan(0n);
  });
});
