/**
 * Crash test (issue 3): the real engine process (src/main.ts) over the Kafka protocol (librdkafka
 * mock cluster) and PostgreSQL, SIGKILLed at random points of a 100k-command stream. After the
 * last restart, a consumer's view of executions.v1 must equal an uninterrupted run: no lost, no
 * duplicated (after sequence dedupe), no reordered event.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type EventLog, openKafkaEventLog } from "@excraft/eventlog";
import { freePort, startKafka, startPostgres, type TestKafka, type TestPostgres } from "@excraft/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TOPICS } from "../src/service/index.ts";
import { ShardProcessor } from "../src/service/shard-processor.ts";
import { encodeCommands, generateCommands } from "./support/command-stream.ts";
import { ExecutionCollapser, referenceEvents } from "./support/output-stream.ts";

const COMMANDS = Number(process.env.ENGINE_CRASH_COMMANDS ?? 100_000);
const KILLS = 4;
const serviceDir = join(dirname(fileURLToPath(import.meta.url)), "..");

function seededRandom(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1_103_515_245 + 12_345) % 2_147_483_648;
    return x / 2_147_483_648;
  };
}

describe("engine crash and restart over Kafka", () => {
  let kafka: TestKafka;
  let postgres: TestPostgres;
  let databaseUrl: string;
  let log: EventLog;

  beforeAll(async () => {
    kafka = await startKafka({
      brokers: 1,
      topics: Object.values(TOPICS).map((name) => ({ name, partitions: 1 })),
    });
    postgres = await startPostgres();
    databaseUrl = await postgres.createDatabase("engine_crash");
    log = await openKafkaEventLog({ brokers: kafka.brokers, createTopic: kafka.createTopic });
  });
  afterAll(async () => {
    await log?.close();
    await kafka?.stop();
    await postgres?.stop();
  });

  async function engineOffset(metricsPort: number): Promise<number> {
    try {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      const match = /^engine_input_offset\{[^}]*\} (\d+)/m.exec(text);
      return match ? Number(match[1]) : -1;
    } catch {
      return -1;
    }
  }

  async function startEngine(): Promise<{ child: ChildProcess; metricsPort: number }> {
    const metricsPort = await freePort();
    const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
      cwd: serviceDir,
      env: {
        ...process.env,
        DATABASE_URL: databaseUrl,
        KAFKA_BROKERS: kafka.brokers.join(","),
        GRPC_HOST: "127.0.0.1",
        GRPC_PORT: "0",
        METRICS_HOST: "127.0.0.1",
        METRICS_PORT: String(metricsPort),
        ENGINE_SNAPSHOT_EVERY_COMMANDS: "7000",
        LOG_LEVEL: "warn",
      },
      stdio: ["ignore", "inherit", "inherit"],
    });
    return { child, metricsPort };
  }

  it(`loses, duplicates and reorders nothing across ${KILLS} SIGKILLs in ${COMMANDS} commands`, async () => {
    const payloads = encodeCommands(generateCommands(COMMANDS, 2026));
    const reference = new ShardProcessor({ shard: 0, epoch: 0n });
    for (const [i, payload] of payloads.entries()) reference.apply(BigInt(i), payload);
    const expected = referenceEvents(reference.drain().executions);

    // The mock cluster keeps ~5 MB per partition, like a short retention: the producer stays at
    // most WINDOW commands ahead of the engine and of this consumer, which reads as it goes.
    const WINDOW = 10_000;
    const collapser = new ExecutionCollapser();
    const reader = await log.openReader({ topic: TOPICS.executions, partition: 0, offset: 0n });
    const random = seededRandom(42);
    const killTargets = Array.from({ length: KILLS }, (_, k) =>
      Math.floor(((k + 0.2 + 0.6 * random()) / KILLS) * COMMANDS * 0.9),
    );
    const killedAt: number[] = [];
    let published = 0;
    let engine = await startEngine();
    let engineAt = 0;
    const deadline = Date.now() + 480_000;
    try {
      while (collapser.events.length < expected.length && Date.now() < deadline) {
        const seen = Number(collapser.inputOffset);
        if (published < COMMANDS && published < Math.min(engineAt, seen) + WINDOW) {
          const chunk = payloads.slice(published, published + 2_000);
          await log.publish(
            TOPICS.orders,
            chunk.map((value) => ({ key: "k", value, partition: 0 })),
          );
          published += chunk.length;
        }
        for (const record of await reader.read({ maxRecords: 5_000, maxWaitMs: 20 }))
          collapser.accept(record.value);
        engineAt = Math.max(engineAt, await engineOffset(engine.metricsPort));
        expect(engine.child.exitCode, "engine exited by itself").toBeNull();
        const target = killTargets[killedAt.length];
        if (target !== undefined && engineAt >= target) {
          engine.child.kill("SIGKILL"); // mid-batch or mid-snapshot: wherever it is
          await once(engine.child, "exit");
          killedAt.push(engineAt);
          engine = await startEngine();
        }
      }
    } finally {
      engine.child.kill("SIGTERM");
      const [exitCode] = await once(engine.child, "exit");
      await reader.close();
      expect(exitCode).toBe(0);
    }
    console.log(
      `[crash] ${COMMANDS} commands, killed at input offsets ${killedAt.join(", ")}; executions.v1: ${collapser.records} records, ${collapser.events.length} events after dedupe, ${collapser.duplicates} re-emitted duplicates dropped, ${collapser.staleEpoch} stale-epoch, ${collapser.gaps} gaps, epochs ${[...collapser.epochs].join(",")}`,
    );
    expect(killedAt).toHaveLength(KILLS);
    expect(collapser.gaps).toBe(0);
    expect(collapser.epochs.size).toBe(KILLS + 1);
    expect(collapser.events.length).toBe(expected.length);
    expect(collapser.events).toEqual(expected);
  }, 600_000);
});
