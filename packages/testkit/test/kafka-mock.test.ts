import { Kafka, logLevel } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type KafkaMock, kafkaMockLauncherPath, startKafkaMock } from "../src/kafka-mock";

describe("librdkafka mock cluster", () => {
  let mock: KafkaMock;
  let kafka: Kafka;
  beforeAll(async () => {
    mock = await startKafkaMock({ brokers: 3, topics: [{ name: "mock.t", partitions: 3 }] });
    kafka = new Kafka({
      clientId: "testkit-test",
      brokers: mock.brokers,
      logLevel: logLevel.NOTHING,
      connectionTimeout: 500,
      retry: { retries: 2, initialRetryTime: 50, maxRetryTime: 200 },
    });
  });
  afterAll(async () => mock?.stop());

  it("caches the compiled launcher by source hash under <repo>/.testkit", async () => {
    const path = await kafkaMockLauncherPath();
    expect(path).toMatch(/\/\.testkit\/kafka_mock_launcher-[0-9a-f]{16}$/);
    expect(await kafkaMockLauncherPath()).toBe(path);
  });

  it("speaks the Kafka protocol on loopback: metadata, produce and fetch", async () => {
    expect(mock.brokers).toHaveLength(3);
    for (const b of mock.brokers) expect(b).toMatch(/^127\.0\.0\.1:\d+$/);
    const admin = kafka.admin();
    await admin.connect();
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    try {
      const meta = await admin.fetchTopicMetadata({ topics: ["mock.t"] });
      expect(meta.topics[0]!.partitions).toHaveLength(3);
      const [r] = await producer.send({
        topic: "mock.t",
        acks: -1,
        messages: [{ value: "x", partition: 1 }],
      });
      expect(r!.partition).toBe(1);
      const offsets = await admin.fetchTopicOffsets("mock.t");
      expect(offsets.find((o) => o.partition === 1)!.high).toBe("1");
      await mock.createTopic("mock.created", 5);
      const created = await admin.fetchTopicMetadata({ topics: ["mock.created"] });
      expect(created.topics[0]!.partitions).toHaveLength(5);
    } finally {
      await producer.disconnect();
      await admin.disconnect();
    }
  });

  it("injects request errors and takes brokers down and up", async () => {
    const admin = kafka.admin();
    await admin.connect();
    const producer = kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 0 } });
    await producer.connect();
    try {
      // Produce (api key 0) fails with INVALID_RECORD (87, not retriable) once, then succeeds.
      await mock.pushRequestErrors(0, [87]);
      await expect(
        producer.send({ topic: "mock.t", acks: -1, messages: [{ value: "e", partition: 0 }] }),
      ).rejects.toThrow();
      await producer.send({ topic: "mock.t", acks: -1, messages: [{ value: "ok", partition: 0 }] });

      const meta = await admin.fetchTopicMetadata({ topics: ["mock.t"] });
      const p = meta.topics[0]!.partitions.find((x) => x.partitionId === 2)!;
      await mock.brokerDown(p.leader);
      // The mock does not move leaders: sends to a partition of a down leader fail.
      await expect(
        producer.send({
          topic: "mock.t",
          acks: -1,
          timeout: 1_000,
          messages: [{ value: "d", partition: 2 }],
        }),
      ).rejects.toThrow();
      await mock.brokerUp(p.leader);
      let sent = false;
      for (let i = 0; i < 50 && !sent; i++) {
        sent = await producer
          .send({ topic: "mock.t", acks: -1, messages: [{ value: "u", partition: 2 }] })
          .then(() => true)
          .catch(() => new Promise<boolean>((r) => setTimeout(() => r(false), 100)));
      }
      expect(sent).toBe(true);
    } finally {
      await producer.disconnect();
      await admin.disconnect();
    }
  });

  it("reports bad commands as errors", async () => {
    await expect(mock.createTopic("bad", 0)).rejects.toThrow(/invalid partitions/);
    await expect(mock.brokerDown(99)).rejects.toThrow(/failed: err/);
  });

  it("exits when stopped", async () => {
    const other = await startKafkaMock();
    expect(other.brokers).toHaveLength(1);
    await other.stop();
    await expect(other.brokerDown(1)).rejects.toThrow(/not running/);
  });
});
