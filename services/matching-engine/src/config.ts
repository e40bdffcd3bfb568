/** Environment of the matching-engine process (one shard per process). */
import { env, platformConfigSchema } from "@excraft/platform";

export const engineConfigSchema = {
  ...platformConfigSchema,
  DATABASE_URL: env.url({ description: "PostgreSQL URL (snapshots, leader lease)" }),
  KAFKA_BROKERS: env.string({ description: "Comma-separated Kafka bootstrap brokers" }),
  ENGINE_SHARD: env.int({
    description: "Shard this process leads (= partition of orders.v1)",
    default: 0,
    min: 0,
  }),
  ENGINE_SHARD_COUNT: env.int({
    description: "Number of engine shards (partitions of the engine topics)",
    default: 1,
    min: 1,
  }),
  ENGINE_SNAPSHOT_EVERY_COMMANDS: env.int({
    description: "Snapshot after this many commands",
    default: 50_000,
    min: 1,
  }),
  ENGINE_SNAPSHOT_EVERY_MS: env.int({
    description: "Snapshot at least this often while busy, in ms",
    default: 10_000,
    min: 100,
  }),
};
