import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type TestPostgres } from "../src/postgres";
import { startRedis, type TestRedis } from "../src/redis";

describe("testkit postgres", () => {
  let postgres: TestPostgres;
  beforeAll(async () => {
    postgres = await startPostgres();
  }, 120_000);
  afterAll(async () => postgres?.stop());

  it("runs a real PostgreSQL 15+ and creates isolated databases", async () => {
    const url = await postgres.createDatabase("testkit_check");
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const version = await client.query<{ server_version_num: string }>("show server_version_num");
      expect(Number(version.rows[0]?.server_version_num)).toBeGreaterThanOrEqual(150000);
      await client.query("create table t (n bigint not null check (n >= 0))");
      await expect(client.query("insert into t values (-1)")).rejects.toThrow(/check constraint/);
      const db = await client.query<{ current_database: string }>("select current_database()");
      expect(db.rows[0]?.current_database).toBe("testkit_check");
    } finally {
      await client.end();
    }
  });
});

describe("testkit redis", () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedis();
  }, 60_000);
  afterAll(async () => redis?.stop());

  it("runs a real Redis", async () => {
    const client = new Redis(redis.url);
    try {
      await client.set("k", "v");
      expect(await client.get("k")).toBe("v");
      expect(await client.incrby("counter", 5)).toBe(5);
    } finally {
      client.disconnect();
    }
  });
});
