/**
 * Two gateway replicas (own consumer groups, one PostgreSQL, one engine and wallet) share their
 * rate limits through one real Redis (Debian redis-server from testkit): the per-IP REQUEST_WEIGHT
 * and the per-account ORDERS counters continue across instances. The clock is frozen so the
 * 10-second and 1-minute windows cannot roll over during the test.
 */
import { createRedisClient } from "@excraft/platform";
import { startRedis, type TestRedis } from "@excraft/testkit";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisRateLimitStore } from "../src/index.ts";
import { logger } from "./support/harness.ts";
import {
  client,
  createKey,
  credit,
  type GatewayInstance,
  type OrderExchange,
  startGateway,
  startOrderExchange,
} from "./support/order-harness.ts";

describe("rate limits shared by two gateway instances through Redis", () => {
  let oe: OrderExchange;
  let redis: TestRedis;
  const clients: Redis[] = [];
  let one: GatewayInstance;
  let two: GatewayInstance;
  // Frozen in the middle of a 10 s window, 20 s into a minute.
  const T = Math.floor(Date.now() / 60_000) * 60_000 + 25_000;
  const clock = () => T;

  const instance = (n: number) => {
    const redisClient = createRedisClient({ url: redis.url, connectionName: `gateway-${n}`, logger });
    clients.push(redisClient);
    const store = new RedisRateLimitStore(redisClient);
    return startGateway(oe, {
      groupId: `order-gateway.orders.${n}`,
      mdGroupId: `order-gateway.market-data.${n}`,
      now: clock,
      rateLimit: { weightPerMinute: 100, store, now: clock },
      ordersLimit: { per10s: 3, store },
    });
  };

  beforeAll(async () => {
    [oe, redis] = await Promise.all([startOrderExchange(), startRedis()]);
    one = await instance(1);
    two = await instance(2);
    await credit(oe, "dave", "USDT", 1_000_000_000n, "fund-dave");
  }, 120_000);

  afterAll(async () => {
    await one?.stop();
    await two?.stop();
    for (const c of clients) c.disconnect();
    await redis?.stop();
    await oe?.stop();
  });

  it("ORDERS per account and REQUEST_WEIGHT per IP continue across replicas", async () => {
    const key = await createKey(one.url, "dave", ["read", "trade"]);
    const on = [client(one.url, key, clock), client(two.url, key, clock)];
    const order = (price: string) => ({
      symbol: "BTCUSDT",
      side: "BUY",
      type: "LIMIT",
      timeInForce: "GTC",
      quantity: "0.01",
      price,
      newOrderRespType: "ACK",
    });
    const counts: string[] = [];
    for (const [i, price] of [
      [0, "1000"],
      [1, "1001"],
      [0, "1002"],
    ] as const) {
      const r = await on[i]!("POST", "/order", order(price));
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      counts.push(r.headers.get("x-mbx-order-count-10s") ?? "");
    }
    expect(counts).toEqual(["1", "2", "3"]);
    const refused = await on[1]!("POST", "/order", order("1003"));
    expect(refused.status).toBe(429);
    expect(refused.body).toEqual({
      code: -1015,
      msg: "Too many new orders; current limit is 3 orders per 10 SECOND.",
    });
    // Refused before the wallet: only the three orders (10 + 10.01 + 10.02 USDT) are locked.
    const account = await on[0]!("GET", "/account");
    expect(account.body.balances).toEqual([{ asset: "USDT", free: "969.97000000", locked: "30.03000000" }]);

    // Request weight: the counter one instance reports continues on the other.
    const a = await on[0]!("GET", "/openOrders", { symbol: "BTCUSDT" });
    const usedA = Number(a.headers.get("x-mbx-used-weight-1m"));
    const b = await on[1]!("GET", "/openOrders", { symbol: "BTCUSDT" });
    expect(Number(b.headers.get("x-mbx-used-weight-1m"))).toBe(usedA + 6);
    let used = usedA + 6;
    let turn = 0;
    while (used + 20 <= 100) {
      const r = await on[turn++ % 2]!("GET", "/account");
      expect(r.status).toBe(200);
      used += 20;
      expect(Number(r.headers.get("x-mbx-used-weight-1m"))).toBe(used);
    }
    for (const call of on) {
      const r = await call("GET", "/account");
      expect(r.status).toBe(429);
      expect(r.body.code).toBe(-1003);
      expect(r.body.msg).toContain("current limit is 100 request weight per 1 MINUTE");
    }
  });
});
