import { Kafka, logLevel } from "kafkajs";
import { describe, expect, it } from "vitest";
import { isDockerAvailable } from "../src/docker";
import { startKafka } from "../src/kafka";

describe("startKafka", () => {
  it("starts Testcontainers Kafka where Docker runs, the mock cluster otherwise, and creates topics", async () => {
    const kafka = await startKafka({ topics: [{ name: "sk.t", partitions: 2 }] });
    try {
      if (!process.env.TESTKIT_KAFKA_BROKERS) {
        expect(kafka.kind).toBe((await isDockerAvailable()) ? "testcontainers" : "mock");
      }
      expect(kafka.mock !== undefined).toBe(kafka.kind === "mock");
      const client = new Kafka({ clientId: "sk", brokers: kafka.brokers, logLevel: logLevel.NOTHING });
      const admin = client.admin();
      await admin.connect();
      try {
        const meta = await admin.fetchTopicMetadata({ topics: ["sk.t"] });
        expect(meta.topics[0]!.partitions).toHaveLength(2);
      } finally {
        await admin.disconnect();
      }
    } finally {
      await kafka.stop();
    }
  }, 180_000);
});
