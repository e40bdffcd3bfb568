import { type EventLog, openEmbeddedEventLog } from "@excraft/eventlog";
import { createGrpcServer, createLogger, createMetrics, createPostgresPool } from "@excraft/platform";
import {
  type BookSnapshot,
  type GetOrderResponse,
  type ListMarketsResponse,
  MatchingEngineClient,
  MatchingEngineService,
  Side,
} from "@excraft/proto";
import { decodeExecutionRecord } from "@excraft/proto/records";
import { startPostgres, type TestPostgres } from "@excraft/testkit";
import { credentials, type ServiceError, status } from "@grpc/grpc-js";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createMatchingEngineApi,
  EngineShardService,
  matchingEngineHandlers,
  TOPICS,
} from "../src/service/index.ts";
import { ShardProcessor } from "../src/service/shard-processor.ts";
import { encodeCommands, generateCommands } from "./support/command-stream.ts";
import { collapseExecutions, referenceEvents } from "./support/output-stream.ts";

const logger = createLogger({ name: "engine-test", level: "silent" });

async function waitUntil(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function publishCommands(log: EventLog, payloads: Uint8Array[]): Promise<void> {
  for (let i = 0; i < payloads.length; i += 1_000) {
    await log.publish(
      TOPICS.orders,
      payloads.slice(i, i + 1_000).map((value) => ({ key: "k", value, partition: 0 })),
    );
  }
}

/** What a single uninterrupted processor emits for the same input (epoch zeroed, like the collapse). */
function expectedExecutions(payloads: Uint8Array[]): string[] {
  const processor = new ShardProcessor({ shard: 0, epoch: 0n });
  for (const [i, payload] of payloads.entries()) processor.apply(BigInt(i), payload);
  return referenceEvents(processor.drain().executions);
}

describe("EngineShardService", () => {
  let postgres: TestPostgres;
  let databaseUrl: string;
  let pool: pg.Pool;
  let log: EventLog;

  beforeAll(async () => {
    postgres = await startPostgres();
    databaseUrl = await postgres.createDatabase("engine_service");
    pool = createPostgresPool({ url: databaseUrl });
    log = await openEmbeddedEventLog();
    for (const topic of Object.values(TOPICS)) await log.createTopic(topic, 1);
  });
  afterAll(async () => {
    await log?.close();
    await pool?.end();
    await postgres?.stop();
  });

  const service = (overrides: Partial<ConstructorParameters<typeof EngineShardService>[0]> = {}) =>
    new EngineShardService({
      shard: 0,
      shardCount: 1,
      eventLog: log,
      pool,
      databaseUrl,
      logger,
      registry: createMetrics().registry,
      snapshotEveryCommands: 1_500,
      ...overrides,
    });

  it("processes orders.v1, restarts from a snapshot, fails over to a standby with a higher epoch, and loses nothing", async () => {
    const payloads = encodeCommands(generateCommands(9_000, 11));
    await publishCommands(log, payloads.slice(0, 3_000));

    const first = service();
    await first.start();
    expect(first.status).toBe("active");
    await waitUntil("first batch", () => first.processor!.inputOffset === 3_000n);

    // A standby for the same shard waits while the first leads.
    const standby = service();
    const standbyStarted = standby.start();
    await waitUntil("standby", () => standby.status === "standby");

    await publishCommands(log, payloads.slice(3_000, 6_000));
    await waitUntil("second batch", () => first.processor!.inputOffset === 6_000n);
    const epochBefore = (await pool.query("select epoch from engine_epochs where shard = 0")).rows[0].epoch;

    await first.stop(); // the lease is released: the standby takes over
    await standbyStarted;
    expect(standby.status).toBe("active");
    const epochAfter = (await pool.query("select epoch from engine_epochs where shard = 0")).rows[0].epoch;
    expect(BigInt(epochAfter)).toBe(BigInt(epochBefore) + 1n);

    await publishCommands(log, payloads.slice(6_000));
    await waitUntil("third batch", () => standby.processor!.inputOffset === 9_000n);
    await standby.stop();

    // A consumer's view equals one uninterrupted run, with no gaps.
    const collapsed = await collapseExecutions(log, 0);
    expect(collapsed.gaps).toBe(0);
    expect(collapsed.epochs.size).toBe(2);
    expect(collapsed.events).toEqual(expectedExecutions(payloads));
    // Many events per record (ADR 10).
    expect(collapsed.records).toBeLessThan(collapsed.events.length / 10);

    const snapshots = await pool.query("select count(*)::int as n from engine_snapshots where shard = 0");
    expect(snapshots.rows[0].n).toBeGreaterThan(0);
  });

  it("serves the order book, orders and markets over gRPC, with clear errors", async () => {
    const engine = service();
    await engine.start();
    const metrics = createMetrics();
    const server = await createGrpcServer({
      name: "matching-engine",
      host: "127.0.0.1",
      port: 0,
      logger,
      metrics,
      services: [
        {
          definition: MatchingEngineService,
          implementation: matchingEngineHandlers(createMatchingEngineApi(() => [engine.processor!])),
        },
      ],
    });
    const client = new MatchingEngineClient(`127.0.0.1:${server.port}`, credentials.createInsecure());
    const unary = <Res>(send: (callback: (error: ServiceError | null, response: Res) => void) => unknown) =>
      new Promise<Res>((resolve, reject) =>
        send((error, response) => (error ? reject(error) : resolve(response))),
      );
    try {
      const markets = await unary<ListMarketsResponse>((cb) => client.listMarkets({}, cb));
      expect(markets.markets.map((m) => m.symbol).sort()).toEqual(["BTCUSDT", "ETHUSDT", "EXTUSDT"]);

      const book = await unary<BookSnapshot>((cb) =>
        client.getOrderBook({ symbol: "BTCUSDT", depth: 5 }, cb),
      );
      expect(book.bids.length).toBeGreaterThan(0);
      expect(book.bids.length).toBeLessThanOrEqual(5);
      expect(book.lastUpdateId).toBeGreaterThan(0n);
      // The book is never crossed and each side is sorted best first.
      expect(book.bids[0]!.price).toBeLessThan(book.asks[0]!.price);
      for (let i = 1; i < book.bids.length; i++)
        expect(book.bids[i]!.price).toBeLessThan(book.bids[i - 1]!.price);

      const live = engine.processor!.engine.book("BTCUSDT")!.openOrders()[0]!;
      const order = await unary<GetOrderResponse>((cb) =>
        client.getOrder(
          { symbol: "BTCUSDT", orderId: BigInt(live.orderId), accountId: "", clientOrderId: "" },
          cb,
        ),
      );
      expect(order.order?.orderId).toBe(BigInt(live.orderId));
      expect(order.order?.side).toBe(live.side === 1 ? Side.BUY : Side.SELL);

      await expect(
        unary<BookSnapshot>((cb) => client.getOrderBook({ symbol: "NOPE", depth: 5 }, cb)),
      ).rejects.toMatchObject({
        code: status.NOT_FOUND,
      });
      await expect(
        unary<BookSnapshot>((cb) => client.getOrderBook({ symbol: "BTCUSDT", depth: 100_000 }, cb)),
      ).rejects.toMatchObject({
        code: status.INVALID_ARGUMENT,
      });
      await expect(
        unary<GetOrderResponse>((cb) =>
          client.getOrder({ symbol: "BTCUSDT", orderId: 999_999_999n, accountId: "", clientOrderId: "" }, cb),
        ),
      ).rejects.toMatchObject({ code: status.NOT_FOUND });
    } finally {
      client.close();
      await server.drain(1_000);
      await engine.stop();
    }
  });

  it("publishes executions with partition = shard so one shard's events stay in order", async () => {
    const end = await log.endOffset(TOPICS.executions, 0);
    const reader = await log.openReader({ topic: TOPICS.executions, partition: 0, offset: end - 1n });
    const [last] = await reader.read({ maxRecords: 1 });
    await reader.close();
    expect(last!.partition).toBe(0);
    expect(last!.key).toBe("0");
    const events = decodeExecutionRecord(last!.value);
    expect(events.length).toBeGreaterThan(0);
    for (const event of events) expect(event.header.shard).toBe(0);
  });
});
