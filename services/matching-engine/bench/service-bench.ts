/**
 * End-to-end throughput of one engine shard over the Kafka protocol (librdkafka mock cluster) with
 * PostgreSQL snapshots: commands/s from orders.v1 to durably published executions.v1 +
 * marketdata.v1. The peer, measured in the same run on the same cluster, is a plain pipe that reads
 * the same orders.v1 partition and republishes every record unchanged to one topic: the transport's
 * own ceiling. Run: npm run bench:engine-service [-- --commands 50000]
 * Writes bench/results/engine-service.json.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { type EventLog, openKafkaEventLog } from "@excraft/eventlog";
import { createLogger, createMetrics, createPostgresPool } from "@excraft/platform";
import { startKafka, startPostgres } from "@excraft/testkit";
import { EngineShardService, TOPICS } from "../src/service/index.ts";
import { encodeCommands, generateCommands } from "../test/support/command-stream.ts";

const { values } = parseArgs({ options: { commands: { type: "string", default: "50000" } } });
const COMMANDS = Number(values.commands);
const resultsFile = join(
  dirname(fileURLToPath(import.meta.url)),
  "../../../bench/results/engine-service.json",
);

const progress = (message: string) => console.log(`[bench] ${message}`);

async function publishAll(log: EventLog, topic: string, payloads: Uint8Array[]): Promise<void> {
  for (let i = 0; i < payloads.length; i += 5_000) {
    await log.publish(
      topic,
      payloads.slice(i, i + 5_000).map((value) => ({ key: "k", value, partition: 0 })),
    );
  }
}

/** The peer: read orders.v1 and republish each record as is, batch by batch, acknowledged. */
async function pipePeer(log: EventLog, count: number): Promise<number> {
  const reader = await log.openReader({ topic: "bench.in", partition: 0, offset: 0n });
  const started = performance.now();
  let moved = 0;
  while (moved < count) {
    const records = await reader.read({ maxRecords: 2_000, maxWaitMs: 100 });
    if (records.length === 0) continue;
    await log.publish(
      "bench.out",
      records.map((r) => ({ key: r.key, value: r.value, partition: 0 })),
    );
    moved += records.length;
  }
  await reader.close();
  return (moved / (performance.now() - started)) * 1000;
}

progress(`generating ${COMMANDS} commands (exchange-core-like mix over 3 markets, 40 accounts)`);
const payloads = encodeCommands(generateCommands(COMMANDS, 99));
const bytes = payloads.reduce((sum, p) => sum + p.length, 0);
if (bytes > 4_500_000)
  throw new Error(`${bytes} bytes exceed the mock cluster's ~5 MB partition retention; use fewer --commands`);

const kafka = await startKafka({
  brokers: 1,
  topics: [...Object.values(TOPICS), "bench.in", "bench.out"].map((name) => ({ name, partitions: 1 })),
});
const postgres = await startPostgres();
const databaseUrl = await postgres.createDatabase("engine_bench");
const pool = createPostgresPool({ url: databaseUrl });
const log = await openKafkaEventLog({ brokers: kafka.brokers, createTopic: kafka.createTopic });
try {
  progress("peer: kafka pipe (read orders, republish unchanged)");
  await publishAll(log, "bench.in", payloads);
  const peerRate = await pipePeer(log, COMMANDS);
  progress(`peer: ${Math.round(peerRate)} records/s`);

  progress("engine: publishing orders.v1, then starting the shard service");
  await publishAll(log, TOPICS.orders, payloads);
  const engine = new EngineShardService({
    shard: 0,
    shardCount: 1,
    eventLog: log,
    pool,
    databaseUrl,
    logger: createLogger({ name: "bench", level: "warn" }),
    registry: createMetrics().registry,
  });
  const started = performance.now();
  await engine.start(); // start() replays everything already in orders.v1 before returning
  const engineSeconds = (performance.now() - started) / 1000;
  const processed = Number(engine.processor!.inputOffset);
  const sequences = engine.processor!.sequences;
  await engine.stop();
  const engineRate = processed / engineSeconds;
  const events = Number(sequences.executions + sequences.marketData);

  const result = {
    benchmark: "matching-engine service over the Kafka protocol (librdkafka mock cluster), 1 shard",
    machine: {
      cpu: cpus()[0]?.model,
      cores: cpus().length,
      node: process.version,
      date: new Date().toISOString(),
    },
    commands: processed,
    commandBytes: bytes,
    eventsPublished: events,
    engine: {
      seconds: engineSeconds,
      commandsPerSecond: Math.round(engineRate),
      eventsPerSecond: Math.round(events / engineSeconds),
    },
    peer: { name: "kafka pipe: read + republish unchanged", recordsPerSecond: Math.round(peerRate) },
    ratioToPeer: Number((engineRate / peerRate).toFixed(3)),
    target: { commandsPerSecondPerShard: 100_000, met: engineRate >= 100_000 },
  };
  console.table({
    "engine shard (cmd/s)": { value: result.engine.commandsPerSecond },
    "engine events out (ev/s)": { value: result.engine.eventsPerSecond },
    "peer kafka pipe (rec/s)": { value: result.peer.recordsPerSecond },
    "engine / peer": { value: result.ratioToPeer },
    "target ≥ 100k cmd/s": { value: result.target.met ? "met" : "missed" },
  });
  mkdirSync(dirname(resultsFile), { recursive: true });
  writeFileSync(resultsFile, `${JSON.stringify(result, null, 2)}\n`);
  progress(`wrote ${resultsFile}`);
} finally {
  await log.close();
  await pool.end();
  await kafka.stop();
  await postgres.stop();
}
