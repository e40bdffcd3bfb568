export * from "./engine-service.ts";
export * from "./grpc-api.ts";
export * from "./leader-lease.ts";
export * from "./proto-mapping.ts";
export * from "./recent-ids.ts";
export * from "./shard-processor.ts";
export * from "./snapshot-store.ts";
