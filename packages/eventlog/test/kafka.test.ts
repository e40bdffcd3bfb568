import { startKafka } from "@excraft/testkit";
import { logLevel } from "kafkajs";
import { openKafkaEventLog } from "../src/kafka/kafka-event-log";
import { runEventLogContract } from "./contract";

runEventLogContract("kafka (kafkajs)", async () => {
  const kafka = await startKafka({ brokers: 3 });
  return {
    open: () =>
      openKafkaEventLog({
        brokers: kafka.brokers,
        createTopic: kafka.createTopic,
        publishTimeoutMs: 20_000,
        // The mock's rebalance waits session timeout - 1 s for members to rejoin: keep it short here.
        sessionTimeoutMs: 5_000,
        heartbeatIntervalMs: 500,
        logLevel: logLevel.NOTHING,
      }),
    durable: true,
    dispose: () => kafka.stop(),
  };
});
