import { announce, isDockerAvailable } from "./docker";
import { type KafkaMock, startKafkaMock } from "./kafka-mock";

export * from "./kafka-mock";

export interface TestKafka {
  /** Which implementation runs: a real broker in Docker or librdkafka's mock cluster. */
  kind: "testcontainers" | "mock";
  brokers: string[];
  /** Creates a topic (admin API on a real broker, rd_kafka_mock_topic_create on the mock). */
  createTopic(name: string, partitions: number): Promise<void>;
  /** Fault injection, only on the mock cluster. */
  mock?: KafkaMock;
  stop(): Promise<void>;
}

export interface StartKafkaOptions {
  /** Brokers of the mock cluster (the container is always a single broker). Default 1. */
  brokers?: number;
  topics?: { name: string; partitions: number }[];
}

/**
 * Starts Kafka for tests: `@testcontainers/kafka` when a Docker engine answers, otherwise
 * librdkafka's mock cluster (see kafka-mock.ts). `TESTKIT_KAFKA_BROKERS` points the tests at an
 * existing cluster instead. Prints which one it used.
 */
export async function startKafka(opts: StartKafkaOptions = {}): Promise<TestKafka> {
  const external = process.env.TESTKIT_KAFKA_BROKERS;
  if (external) {
    announce("kafka", `external cluster from TESTKIT_KAFKA_BROKERS (${external})`);
    return await withAdmin("testcontainers", external.split(","), opts, async () => {});
  }
  if (await isDockerAvailable()) {
    const { KafkaContainer } = await import("@testcontainers/kafka");
    const container = await new KafkaContainer("confluentinc/cp-kafka:7.9.0").withKraft().start();
    const broker = `${container.getHost()}:${container.getMappedPort(9093)}`;
    announce("kafka", `Testcontainers confluentinc/cp-kafka:7.9.0 on ${broker}`);
    return await withAdmin("testcontainers", [broker], opts, async () => {
      await container.stop();
    });
  }
  const mock = await startKafkaMock(opts);
  announce("kafka", `librdkafka mock cluster (${mock.brokers.length} brokers) on ${mock.brokers.join(",")}`);
  return {
    kind: "mock",
    brokers: mock.brokers,
    createTopic: (name, partitions) => mock.createTopic(name, partitions),
    mock,
    stop: () => mock.stop(),
  };
}

async function withAdmin(
  kind: TestKafka["kind"],
  brokers: string[],
  opts: StartKafkaOptions,
  stop: () => Promise<void>,
): Promise<TestKafka> {
  const { Kafka, logLevel } = await import("kafkajs");
  const kafka = new Kafka({ clientId: "excraft-testkit", brokers, logLevel: logLevel.NOTHING });
  const createTopic = async (name: string, partitions: number) => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.createTopics({
        topics: [{ topic: name, numPartitions: partitions }],
        waitForLeaders: true,
      });
    } finally {
      await admin.disconnect();
    }
  };
  for (const topic of opts.topics ?? []) await createTopic(topic.name, topic.partitions);
  return { kind, brokers, createTopic, stop };
}
