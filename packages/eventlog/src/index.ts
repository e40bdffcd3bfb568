export * from "./embedded/durability";
export { type EmbeddedEventLogOptions, openEmbeddedEventLog } from "./embedded/embedded-event-log";
export { type FileDurabilityOptions, fileDurability } from "./embedded/file-durability";
export { type PostgresDurabilityOptions, postgresDurability } from "./embedded/postgres-durability";
export { type KafkaEventLogOptions, openKafkaEventLog } from "./kafka/kafka-event-log";
export { murmur2, partitionForKey } from "./partitioner";
export * from "./port";
