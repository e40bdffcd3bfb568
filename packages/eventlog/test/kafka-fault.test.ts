import { type KafkaMock, startKafkaMock } from "@excraft/testkit";
import { logLevel } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openKafkaEventLog } from "../src/kafka/kafka-event-log";
import type { EventLog, OutgoingMessage, Subscription } from "../src/port";

const TOPIC = "fault.v1";
const PARTITIONS = 6;
const KEYS = 30;
const PER_KEY = 100; // 3,000 messages
const PRODUCE = 0; // Kafka API key of ProduceRequest
const FETCH = 1; // Kafka API key of FetchRequest
const TOPIC_AUTHORIZATION_FAILED = 29; // an error kafkajs does not retry: its consumer crashes for good
const NOT_LEADER_OR_FOLLOWER = 6;
const REQUEST_TIMED_OUT = 7;

const enc = new TextEncoder();
const dec = new TextDecoder();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("kafka adapter under broker failures (librdkafka mock cluster, 3 brokers)", () => {
  const restarts: string[] = [];
  let mock: KafkaMock;
  let log: EventLog;
  beforeAll(async () => {
    mock = await startKafkaMock({ brokers: 3, topics: [{ name: TOPIC, partitions: PARTITIONS }] });
    log = await openKafkaEventLog({
      brokers: mock.brokers,
      createTopic: mock.createTopic,
      publishTimeoutMs: 30_000,
      sessionTimeoutMs: 5_000,
      heartbeatIntervalMs: 500,
      logLevel: logLevel.NOTHING,
      onConsumerRestart: (groupId, cause) => restarts.push(`${groupId}: ${String(cause)}`),
    });
  });
  afterAll(async () => {
    await log?.close();
    await mock?.stop();
  });

  it("acknowledges only written messages; all are consumed in per-key order", async () => {
    const started = Date.now();
    // What the consumer saw: every position each (key, seq) was delivered from. A write whose
    // response was lost to a broker going down is retried, so one message may sit at two offsets;
    // the acknowledged one must be among them.
    const seen = new Map<string, Set<string>>();
    const lastSeq = new Map<string, number>();
    let consumed = 0;
    let duplicates = 0;
    let orderViolations = 0;
    const sub: Subscription = await log.subscribe({
      topics: [TOPIC],
      groupId: "fault-checker",
      fromBeginning: true,
      eachBatch: async (b) => {
        for (const r of b.records) {
          consumed++;
          const seq = Number(dec.decode(r.value));
          const id = `${r.key}:${seq}`;
          const positions = seen.get(id);
          if (positions) {
            duplicates++;
            positions.add(`${r.partition}@${r.offset}`);
            continue;
          }
          seen.set(id, new Set([`${r.partition}@${r.offset}`]));
          if (seq < (lastSeq.get(r.key) ?? -1)) orderViolations++;
          else lastSeq.set(r.key, seq);
        }
      },
    });

    const acked = new Map<string, { partition: number; offset: bigint }>();
    let rejected = 0;
    const faults: string[] = [];
    const faultScript = (async () => {
      const t0 = Date.now();
      while (acked.size < 600) await sleep(10);
      const step = async (what: string, action: () => Promise<void>) => {
        await action();
        faults.push(`${((Date.now() - t0) / 1000).toFixed(1)}s ${what} (acked ${acked.size})`);
      };
      await step("broker 2 down", () => mock.brokerDown(2));
      await sleep(1_500);
      await step("broker 3 down", () => mock.brokerDown(3));
      await sleep(2_000);
      await step("broker 2 up", () => mock.brokerUp(2));
      await sleep(1_500);
      await step("broker 3 up", () => mock.brokerUp(3));
      await step("3 produce errors injected", () =>
        mock.pushRequestErrors(PRODUCE, [NOT_LEADER_OR_FOLLOWER, REQUEST_TIMED_OUT, NOT_LEADER_OR_FOLLOWER]),
      );
    })();

    // Each round publishes every key once; up to 4 rounds in flight (per-key order must still hold).
    const inFlight = new Set<Promise<void>>();
    for (let seq = 0; seq < PER_KEY; seq++) {
      const messages: OutgoingMessage[] = Array.from({ length: KEYS }, (_, k) => ({
        key: `acct-${k}`,
        value: enc.encode(String(seq)),
      }));
      const p = log.publish(TOPIC, messages).then(
        (positions) => {
          for (const [i, pos] of positions.entries()) acked.set(`${messages[i]!.key}:${seq}`, pos);
        },
        () => {
          rejected += messages.length;
        },
      );
      const tracked = p.finally(() => inFlight.delete(tracked));
      inFlight.add(tracked);
      if (inFlight.size >= 4) await Promise.race(inFlight);
      await sleep(2);
    }
    await Promise.all(inFlight);
    await faultScript;
    const publishedMs = Date.now() - started;

    const deadline = Date.now() + 60_000;
    // Until every acknowledged position has been delivered (a retried copy can come after the first).
    const undelivered = () =>
      [...acked].some(([id, pos]) => !seen.get(id)?.has(`${pos.partition}@${pos.offset}`));
    while (undelivered() && Date.now() < deadline) await sleep(100);
    await sub.stop();

    const missing = [...acked.keys()].filter((id) => !seen.has(id));
    const misplaced = [...acked].filter(([id, pos]) => {
      const delivered = seen.get(id);
      return delivered !== undefined && !delivered.has(`${pos.partition}@${pos.offset}`);
    }).length;
    console.log(
      [
        `[fault] ${faults.join("; ")}`,
        `[fault] published ${KEYS * PER_KEY}, acknowledged ${acked.size}, rejected ${rejected} in ${publishedMs} ms`,
        `[fault] consumed ${consumed} records: ${seen.size} distinct, ${duplicates} duplicates, ` +
          `${missing.length} acknowledged but missing, ${misplaced} at another offset than acknowledged, ` +
          `${orderViolations} per-key order violations, total ${Date.now() - started} ms`,
        `[fault] consumers replaced after a crash kafkajs would not restart: ${restarts.length}${restarts.length ? ` (${restarts.join("; ")})` : ""}`,
      ].join("\n"),
    );
    expect(faults.length).toBe(5);
    expect(acked.size + rejected).toBe(KEYS * PER_KEY);
    expect(acked.size).toBe(KEYS * PER_KEY); // the outage is shorter than the publish deadline
    expect(missing).toEqual([]);
    expect(misplaced).toBe(0);
    expect(orderViolations).toBe(0);
  }, 150_000);

  it("replaces a consumer that kafkajs gives up on, and resumes from the committed offsets", async () => {
    const topic = "crash.v1";
    await mock.createTopic(topic, 1);
    const seen: string[] = [];
    const sub = await log.subscribe({
      topics: [topic],
      groupId: "crash-checker",
      fromBeginning: true,
      eachBatch: async (b) => {
        for (const r of b.records) seen.push(dec.decode(r.value));
      },
    });
    try {
      const send = (from: number, to: number) =>
        log.publish(
          topic,
          Array.from({ length: to - from }, (_, i) => ({ key: "k", value: enc.encode(String(from + i)) })),
        );
      await send(0, 50);
      const deadline = Date.now() + 30_000;
      while (seen.length < 50 && Date.now() < deadline) await sleep(50);
      const before = restarts.length;
      await mock.pushRequestErrors(FETCH, [TOPIC_AUTHORIZATION_FAILED]);
      await send(50, 100);
      while ((seen.length < 100 || restarts.length === before) && Date.now() < deadline + 30_000)
        await sleep(50);
      expect(restarts.length).toBeGreaterThan(before);
      // Every record arrives, in order; a batch not yet committed at the crash may come twice.
      expect([...new Set(seen)]).toEqual(Array.from({ length: 100 }, (_, i) => String(i)));
    } finally {
      await sub.stop();
    }
  }, 90_000);
});
