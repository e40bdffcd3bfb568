/**
 * A real engine shard (EngineShardService over the embedded event log, PostgreSQL lease and
 * snapshots), its MatchingEngine gRPC server, and helpers to put commands into orders.v1.
 * Test-only: production code never imports @excraft/matching-engine.
 */
import { type EventLog, openEmbeddedEventLog } from "@excraft/eventlog";
import {
  createMatchingEngineApi,
  EngineShardService,
  matchingEngineHandlers,
  TOPICS,
} from "@excraft/matching-engine";
import { createGrpcServer, createLogger, createMetrics, createPostgresPool } from "@excraft/platform";
import {
  type MarketSpec,
  MatchingEngineService,
  OrderCommand,
  OrderType,
  Side,
  TimeInForce,
} from "@excraft/proto";
import { startPostgres, type TestPostgres, usdtMarketSpec } from "@excraft/testkit";
import type pg from "pg";

export const logger = createLogger({ name: "gateway-test", level: "silent" });

export const BTCUSDT: MarketSpec = usdtMarketSpec("BTC", {
  minNotional: 5_000_000n /* 5 USDT */,
  defaultStp: 2,
});

export interface Exchange {
  postgres: TestPostgres;
  databaseUrl: string;
  pool: pg.Pool;
  log: EventLog;
  engine: EngineShardService;
  engineAddress: string;
  stop(): Promise<void>;
}

export async function startExchange(): Promise<Exchange> {
  const postgres = await startPostgres();
  const databaseUrl = await postgres.createDatabase("order_gateway");
  const pool = createPostgresPool({ url: databaseUrl });
  const log = await openEmbeddedEventLog();
  for (const topic of Object.values(TOPICS)) await log.createTopic(topic, 1);
  const engine = new EngineShardService({
    shard: 0,
    shardCount: 1,
    eventLog: log,
    pool,
    databaseUrl,
    logger,
    registry: createMetrics({ defaultMetrics: false }).registry,
  });
  await engine.start();
  const grpc = await createGrpcServer({
    name: "matching-engine",
    host: "127.0.0.1",
    port: 0,
    logger,
    metrics: createMetrics({ defaultMetrics: false }),
    services: [
      {
        definition: MatchingEngineService,
        implementation: matchingEngineHandlers(
          createMatchingEngineApi(() => (engine.processor ? [engine.processor] : [])),
        ),
      },
    ],
  });
  return {
    postgres,
    databaseUrl,
    pool,
    log,
    engine,
    engineAddress: `127.0.0.1:${grpc.port}`,
    async stop() {
      await grpc.drain(500).catch(() => {});
      await engine.stop().catch(() => {});
      await log.close().catch(() => {});
      await pool.end().catch(() => {});
      await postgres.stop();
    },
  };
}

let commandSeq = 0;
let nextOrderId = 1n;

export function addMarket(spec: MarketSpec, timeMs: number): OrderCommand {
  return {
    commandId: `add-${spec.symbol}-${++commandSeq}`,
    timeMs: BigInt(timeMs),
    symbol: spec.symbol,
    command: { $case: "addMarket", value: { spec } },
  };
}

/** A LIMIT GTC order; price in ticks, quantity in lots. */
export function limit(
  symbol: string,
  account: string,
  side: "BUY" | "SELL",
  price: number,
  quantity: number,
  timeMs: number,
): OrderCommand {
  return {
    commandId: `cmd-${++commandSeq}`,
    timeMs: BigInt(timeMs),
    symbol,
    command: {
      $case: "place",
      value: {
        orderId: nextOrderId++,
        accountId: account,
        clientOrderId: `c${commandSeq}`,
        side: side === "BUY" ? Side.BUY : Side.SELL,
        type: OrderType.LIMIT,
        timeInForce: TimeInForce.GTC,
        price: BigInt(price),
        quantity: BigInt(quantity),
        quoteOrderQty: 0n,
        stopPrice: 0n,
        selfTradePrevention: 0,
        reserved: 0n,
      },
    },
  };
}

export async function send(log: EventLog, commands: OrderCommand[]): Promise<void> {
  await log.publish(
    TOPICS.orders,
    commands.map((c) => ({ key: c.symbol, partition: 0, value: OrderCommand.encode(c).finish() })),
  );
}

export async function waitUntil(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
