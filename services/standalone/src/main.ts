/**
 * `npm start`: the whole exchange in one Node process, on embedded defaults.
 * Everything here is the production code of each service, wired to in-process adapters:
 * the embedded event log (durable in PostgreSQL) instead of Kafka, an embedded PostgreSQL
 * instead of a managed one. Set DATABASE_URL / KAFKA_BROKERS to use external systems.
 */
import { resolve } from "node:path";
import {
  type EventLog,
  openEmbeddedEventLog,
  openKafkaEventLog,
  postgresDurability,
} from "@excraft/eventlog";
import {
  createMatchingEngineApi,
  EngineShardService,
  matchingEngineHandlers,
  TOPICS,
} from "@excraft/matching-engine";
import { createMarketDataGateway, OrderIdAllocator } from "@excraft/order-gateway";
import {
  createGrpcServer,
  createLogger,
  createMetrics,
  createPostgresPool,
  createShutdown,
  loadConfig,
  platformConfigSchema,
  postgresReadiness,
  Readiness,
  startOpsServer,
} from "@excraft/platform";
import { MatchingEngineService, OrderCommand } from "@excraft/proto";
import { DEMO_MARKETS } from "./demo-markets.ts";
import { startEmbeddedPostgres } from "./embedded-postgres.ts";
import { MarketMakerBot } from "./market-maker-bot.ts";
import { parseOptions, usage } from "./options.ts";

let options: ReturnType<typeof parseOptions>;
try {
  options = parseOptions(process.argv.slice(2));
} catch (error) {
  console.error(`${(error as Error).message}\n\n${usage}`);
  process.exit(2);
}
if (options.help) {
  console.log(usage);
  process.exit(0);
}

const config = loadConfig({ LOG_LEVEL: platformConfigSchema.LOG_LEVEL });
const logger = createLogger({ name: "excraft", level: config.LOG_LEVEL });
const metrics = createMetrics({ defaultLabels: { service: "standalone" } });
const readiness = new Readiness();
const shutdown = createShutdown({ logger }).listen();
shutdown.onStart(() => readiness.markShuttingDown());
const ports = {
  grpc: options.basePort,
  metrics: options.basePort + 1,
  http: options.basePort + 2,
  postgres: options.basePort + 9,
};
const dataDir = resolve(options.dataDir);

const step = (what: string) => logger.info(what);

step(`data directory ${dataDir}`);
let databaseUrl = process.env.DATABASE_URL;
if (databaseUrl === undefined || databaseUrl === "") {
  step("starting embedded PostgreSQL");
  const postgres = await startEmbeddedPostgres(dataDir, ports.postgres);
  shutdown.register("postgres server", () => postgres.stop());
  databaseUrl = postgres.url;
}
const pool = createPostgresPool({ url: databaseUrl, logger });
readiness.register("postgres", postgresReadiness(pool));
shutdown.register("postgres pool", () => pool.end());

const ops = await startOpsServer({ host: options.host, port: ports.metrics, metrics, readiness, logger });
shutdown.register("ops server", () => ops.close());

let eventLog: EventLog;
if (process.env.KAFKA_BROKERS) {
  step("connecting to Kafka");
  eventLog = await openKafkaEventLog({ brokers: process.env.KAFKA_BROKERS.split(",") });
} else {
  step("opening the embedded event log (durable in PostgreSQL)");
  eventLog = await openEmbeddedEventLog({ durability: postgresDurability({ url: databaseUrl }) });
}
shutdown.register("event log", () => eventLog.close());

step("starting the matching engine (shard 0)");
const engine = new EngineShardService({
  shard: 0,
  shardCount: 1,
  eventLog,
  pool,
  databaseUrl,
  logger,
  registry: metrics.registry,
  onFatal: (error: unknown) => {
    logger.fatal({ err: error }, "matching engine failed: exiting");
    process.exit(1);
  },
});
readiness.register("matching-engine", async () => {
  if (engine.status !== "active") throw new Error(`matching engine is ${engine.status}`);
});
shutdown.register("matching engine", () => engine.stop());
await engine.start();

const grpc = await createGrpcServer({
  name: "excraft",
  host: options.host,
  port: ports.grpc,
  logger,
  metrics,
  services: [
    {
      definition: MatchingEngineService,
      implementation: matchingEngineHandlers(
        createMatchingEngineApi(() =>
          engine.processor && engine.status === "active" ? [engine.processor] : [],
        ),
      ),
    },
  ],
  shutdown,
});

step("starting the market-data gateway (REST + WebSocket)");
const gateway = createMarketDataGateway({
  eventLog,
  pool,
  engine: `${options.host}:${grpc.port}`,
  logger,
  metrics,
  host: options.host,
  port: ports.http,
});
const http = await gateway.start();
shutdown.register("order gateway", () => gateway.stop());

const orderIds = new OrderIdAllocator(pool);
await orderIds.migrate();
if (options.demo) {
  const existing = new Set(engine.processor!.engine.markets().map((book) => book.spec.symbol));
  const missing = DEMO_MARKETS.filter((market) => !existing.has(market.spec.symbol));
  if (missing.length > 0) {
    step(`adding demo markets ${missing.map((m) => m.spec.symbol).join(", ")}`);
    await eventLog.publish(
      TOPICS.orders,
      missing.map((market) => ({
        key: market.spec.symbol,
        partition: 0,
        value: OrderCommand.encode({
          commandId: `demo-add-${market.spec.symbol}`,
          timeMs: BigInt(Date.now()),
          symbol: market.spec.symbol,
          command: { $case: "addMarket", value: { spec: market.spec } },
        }).finish(),
      })),
    );
  }
  if (options.bot) {
    const bot = new MarketMakerBot({ eventLog, orderIds, markets: DEMO_MARKETS, logger });
    bot.start();
    shutdown.register("market-maker bot", () => bot.stop());
    step("market-making bot quoting the demo markets every second");
  }
}

const host = options.host;
console.log(`
ExCraft is running (one process, embedded defaults). Stop with Ctrl-C; state is kept in ${dataDir}.
  REST     ${http.url}/api/v3   (Binance Spot v3 public endpoints: exchangeInfo, depth, trades, klines, ticker, ...)
  WebSocket ${http.wsUrl}/ws/<stream>  and  ${http.wsUrl}/stream?streams=   (depth, trade, kline, ticker, bookTicker)
  gRPC     ${host}:${grpc.port}   services: excraft.v1.MatchingEngine, grpc.health.v1.Health, reflection
  metrics  http://${host}:${ops.port}/metrics   health: /healthz  readiness: /readyz
  postgres ${databaseUrl.replace(/:[^:@/]+@/, ":***@")}
Not yet in this build: signed order entry (REST/WebSocket API), wallet and balances, market-maker gRPC stream.
`);
