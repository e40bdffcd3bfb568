/**
 * The order gateway as its own process: Binance-compatible REST + WebSocket on HTTP_PORT, the
 * MarketMaker gRPC session on GRPC_PORT, metrics and health on METRICS_PORT. Several replicas can
 * run side by side: give each its own GATEWAY_GROUP_ID and one REDIS_URL for shared rate limits.
 * Asset decimals and fee rates come from the wallet (GetAssets, GetFeeRates), not from configuration.
 */
import { openKafkaEventLog } from "@excraft/eventlog";
import { createGrpcServer, createRedisClient, redisReadiness, startServiceRuntime } from "@excraft/platform";
import { gatewayConfigSchema } from "./config.ts";
import { createMarketDataGateway } from "./gateway.ts";
import { RedisRateLimitStore } from "./http/redis-rate-limit.ts";
import { createOrderGateway } from "./order-gateway.ts";

const { config, logger, metrics, readiness, shutdown, ops, postgres } = await startServiceRuntime(
  "order-gateway",
  gatewayConfigSchema,
);
const pool = postgres();
let serving = false;
readiness.register("http", async () => {
  if (!serving) throw new Error("REST/WebSocket server not listening yet");
});
const eventLog = await openKafkaEventLog({
  brokers: config.KAFKA_BROKERS.split(","),
  clientId: "order-gateway",
});
shutdown.register("eventlog", () => eventLog.close());

let store: RedisRateLimitStore | undefined;
if (config.REDIS_URL) {
  const redis = createRedisClient({ url: config.REDIS_URL, connectionName: "order-gateway", logger });
  readiness.register("redis", redisReadiness(redis));
  shutdown.register("redis", async () => void redis.disconnect());
  store = new RedisRateLimitStore(redis);
}

const gateway = createMarketDataGateway({
  eventLog,
  pool,
  engine: config.ENGINE_GRPC_ADDRESS,
  logger,
  metrics,
  host: config.HTTP_HOST,
  port: config.HTTP_PORT,
  groupId: `${config.GATEWAY_GROUP_ID}.market-data`,
  ...(store ? { rateLimit: { store } } : {}),
});
const orderEntry = createOrderGateway({
  gateway,
  eventLog,
  pool,
  engine: config.ENGINE_GRPC_ADDRESS,
  wallet: config.WALLET_GRPC_ADDRESS,
  logger,
  masterKey: config.API_KEY_MASTER_KEY,
  adminToken: config.GATEWAY_ADMIN_TOKEN,
  groupId: `${config.GATEWAY_GROUP_ID}.orders`,
  marketMaker: { registry: metrics.registry },
  capital: { depositAddress: config.DEPOSIT_ADDRESS },
  ...(store ? { ordersLimit: { store } } : {}),
});
// Not ready until the wallet's assets are loaded (start() retries GetAssets until it answers).
readiness.register("wallet-reference", async () => {
  if (!orderEntry.reference.ready) throw new Error("wallet assets not loaded yet");
});
await orderEntry.start();
await createGrpcServer({
  name: "order-gateway",
  host: config.GRPC_HOST,
  port: config.GRPC_PORT,
  logger,
  metrics,
  // A market maker's session lives as long as the session: no per-call time limit here.
  maxHandlingMs: Number.POSITIVE_INFINITY,
  drainTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
  services: [orderEntry.marketMakerService],
  shutdown,
  readiness,
});
const http = await gateway.start();
serving = true;
shutdown.register("gateway", async () => {
  await gateway.stop();
  await orderEntry.stop();
});
logger.info({ rest: `${http.url}/api/v3`, ws: http.wsUrl, metrics: ops.url }, "order gateway ready");
