/**
 * The matching-engine service as its own process (one container per shard in production):
 * leads one shard of orders.v1 over Kafka, snapshots to PostgreSQL, serves `MatchingEngine` over
 * gRPC and metrics/health over HTTP. A second process for the same shard stands by.
 */
import { openKafkaEventLog } from "@excraft/eventlog";
import { createGrpcServer, startServiceRuntime } from "@excraft/platform";
import { engineConfigSchema } from "./config.ts";
import { EngineShardService, matchingEngineService } from "./service/index.ts";

const { config, logger, metrics, readiness, shutdown, postgres } = await startServiceRuntime(
  "matching-engine",
  engineConfigSchema,
);
const pool = postgres();

const eventLog = await openKafkaEventLog({ brokers: config.KAFKA_BROKERS.split(",") });
shutdown.register("eventlog", () => eventLog.close());

const engine = new EngineShardService({
  shard: config.ENGINE_SHARD,
  shardCount: config.ENGINE_SHARD_COUNT,
  eventLog,
  pool,
  databaseUrl: config.DATABASE_URL,
  logger,
  registry: metrics.registry,
  snapshotEveryCommands: config.ENGINE_SNAPSHOT_EVERY_COMMANDS,
  snapshotEveryMs: config.ENGINE_SNAPSHOT_EVERY_MS,
  // Losing the lease or the log means another instance may lead: stop at once, never write on.
  // Crash-only: the next start restores the last snapshot and replays.
  onFatal: (error) => {
    logger.fatal({ err: error }, "engine failure: exiting");
    process.exit(1);
  },
});
readiness.register("engine", async () => {
  if (engine.status !== "active") throw new Error(`engine is ${engine.status}`);
});
shutdown.register("engine", () => engine.stop());

await createGrpcServer({
  name: "matching-engine",
  host: config.GRPC_HOST,
  port: config.GRPC_PORT,
  logger,
  metrics,
  maxHandlingMs: config.GRPC_MAX_HANDLING_MS,
  drainTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
  services: [matchingEngineService(engine)],
  shutdown,
  readiness,
});
await engine.start();
