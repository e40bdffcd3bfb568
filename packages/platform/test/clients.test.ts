import { startPostgres, startRedis, type TestPostgres, type TestRedis } from "@excraft/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createLogger,
  createPostgresPool,
  createRedisClient,
  postgresReadiness,
  Readiness,
  redisReadiness,
  withTransaction,
} from "../src/index";
import { memoryDestination } from "./helpers";

const log = memoryDestination();
const logger = createLogger({ name: "clients", destination: log.stream });

describe("Postgres pool (real PostgreSQL)", () => {
  let pg: TestPostgres;
  beforeAll(async () => {
    pg = await startPostgres();
  });
  afterAll(async () => {
    await pg?.stop();
  });

  it("applies the statement timeout and pool size, and reports readiness", async () => {
    const pool = createPostgresPool({
      url: pg.url,
      max: 3,
      statementTimeoutMs: 300,
      applicationName: "platform-test",
      logger,
    });
    try {
      expect(pool.options.max).toBe(3);
      const shown = await pool.query<{ statement_timeout: string }>("show statement_timeout");
      expect(shown.rows[0]!.statement_timeout).toBe("300ms");
      await expect(pool.query("select pg_sleep(2)")).rejects.toThrow(/statement timeout/);
      const readiness = new Readiness();
      readiness.register("postgres", postgresReadiness(pool));
      expect((await readiness.evaluate()).ready).toBe(true);
    } finally {
      await pool.end();
    }
  });

  it("withTransaction commits what returns, rolls back what throws, and always frees the connection", async () => {
    const pool = createPostgresPool({ url: pg.url, max: 1, logger });
    try {
      await pool.query("create table tx_probe (n int primary key)");
      expect(
        await withTransaction(pool, (c) => c.query("insert into tx_probe values (1)").then(() => "done")),
      ).toBe("done");
      await expect(
        withTransaction(pool, async (c) => {
          await c.query("insert into tx_probe values (2)");
          await c.query("insert into tx_probe values (1)"); // duplicate key: the whole transaction goes
        }),
      ).rejects.toThrow(/duplicate key/);
      await withTransaction(
        pool,
        async (c) => {
          const mode = await c.query<{ synchronous_commit: string }>("show synchronous_commit");
          expect(mode.rows[0]!.synchronous_commit).toBe("off");
          await c.query("insert into tx_probe values (3)");
        },
        { asynchronousCommit: true },
      );
      // One connection in the pool: each call above had to give it back for the next to run.
      const rows = await pool.query<{ n: number }>("select n from tx_probe order by n");
      expect(rows.rows.map((r) => r.n)).toEqual([1, 3]);
      expect(
        (await pool.query<{ synchronous_commit: string }>("show synchronous_commit")).rows[0]!
          .synchronous_commit,
      ).toBe("on");
    } finally {
      await pool.end();
    }
  });

  it("is not ready when the database cannot be reached", async () => {
    const url = new URL(pg.url);
    url.port = "1"; // nothing listens there
    const pool = createPostgresPool({ url: url.toString(), connectionTimeoutMs: 500, logger });
    try {
      const readiness = new Readiness();
      readiness.register("postgres", postgresReadiness(pool));
      const report = await readiness.evaluate();
      expect(report.ready).toBe(false);
      expect(report.checks.postgres!.error).toMatch(/ECONNREFUSED|connect/);
    } finally {
      await pool.end();
    }
  });
});

describe("Redis client (real redis-server)", () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it("connects from a URL, is ready, and turns not ready when the server goes away", async () => {
    const client = createRedisClient({ url: redis.url, connectionName: "platform-test", logger });
    try {
      const readiness = new Readiness();
      readiness.register("redis", redisReadiness(client), { timeoutMs: 1_000 });
      await new Promise<void>((resolve) =>
        client.status === "ready" ? resolve() : client.once("ready", () => resolve()),
      );
      expect(await readiness.evaluate()).toMatchObject({ ready: true, checks: { redis: { ok: true } } });
      await client.set("platform:test", "1");
      expect(await client.get("platform:test")).toBe("1");
      expect(await client.client("GETNAME")).toBe("platform-test");

      await redis.stop();
      await new Promise((r) => setTimeout(r, 200));
      const report = await readiness.evaluate();
      expect(report.ready).toBe(false);
      expect(report.checks.redis!.ok).toBe(false);
    } finally {
      client.disconnect();
    }
  });
});
