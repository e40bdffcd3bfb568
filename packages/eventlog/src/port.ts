/**
 * The EventLog port: the exchange's event backbone (orders.v1, executions.v1, marketdata.v1,
 * ledger.v1). Business code depends on this interface only; adapters: `embedded` (in-process, with
 * memory / file / PostgreSQL durability) and `kafka` (kafkajs). See README.md for the guarantees.
 */

/** Message headers. Values are UTF-8 strings (Kafka header bytes are decoded as UTF-8 on read). */
export type Headers = Record<string, string>;

export interface OutgoingMessage {
  /** Partitioning key: murmur2(key) % partitions, like Kafka's Java client and kafkajs. */
  key: string;
  value: Uint8Array;
  /** Explicit partition; overrides the key's partition (e.g. partition = engine shard). */
  partition?: number;
  headers?: Headers;
}

/** Where one published message was written. */
export interface Position {
  partition: number;
  offset: bigint;
}

export interface LogRecord {
  topic: string;
  partition: number;
  offset: bigint;
  key: string;
  value: Uint8Array;
  headers: Headers;
  /** Append time, milliseconds since the epoch (informational; never use it for business logic). */
  timestamp: number;
}

export interface Batch {
  topic: string;
  partition: number;
  /** Non-empty, in offset order. */
  records: LogRecord[];
  /** The partition's end offset (high watermark) when the batch was read. */
  highWatermark: bigint;
}

export interface SubscribeOptions {
  topics: string[];
  groupId: string;
  /** Where a partition without a committed offset starts: earliest (true) or the end (false, default). */
  fromBeginning?: boolean;
  /**
   * Handles one batch of one partition. Batches of one partition never run concurrently and arrive in
   * offset order. The batch's offsets are committed only after this resolves; if it throws, the same
   * records are delivered again (after `retryBackoffMs`) and nothing is committed: at-least-once.
   */
  eachBatch(batch: Batch): Promise<void>;
  /** Called with every handler failure before the retry (for logging / metrics). */
  onError?(error: unknown, batch: Batch): void;
  /** Upper bound of records per batch (default 500). */
  maxBatchRecords?: number;
  /** First retry delay after a handler failure, doubled up to 5 s (default 200 ms). */
  retryBackoffMs?: number;
}

export interface TopicPartition {
  topic: string;
  partition: number;
}

export interface Subscription {
  /** Partitions currently assigned to this member. */
  assignment(): TopicPartition[];
  /** Waits for the batch in flight (and its commit), leaves the group and disconnects. Idempotent. */
  stop(): Promise<void>;
}

export interface ReaderOptions {
  topic: string;
  partition: number;
  /** First offset to read (default 0n). */
  offset?: bigint;
}

/** A group-less reader of one partition, for replay and snapshots. Nothing is committed. */
export interface PartitionReader {
  /**
   * Returns the records from the current position on (at most `maxRecords`, default 500) and advances
   * the position. Waits up to `maxWaitMs` (default 1000) for data when none is available; returns []
   * when none arrived.
   */
  read(opts?: { maxRecords?: number; maxWaitMs?: number }): Promise<LogRecord[]>;
  /** Moves the position; the next read starts at `offset`. */
  seek(offset: bigint): void;
  /** The offset the next read starts at. */
  position(): bigint;
  close(): Promise<void>;
}

export interface EventLog {
  /**
   * Appends messages and resolves once every one of them is durable (per the adapter's durability),
   * with their positions in input order. Per-key order: messages with the same key (and no explicit
   * partition) keep their order within a call and across calls made one after another or concurrently
   * (calls are applied in call order per partition). Rejects if the messages could not be made durable
   * in time; then some of them may or may not have been written (at-least-once: publishers retry,
   * consumers deduplicate by event id).
   */
  publish(topic: string, messages: OutgoingMessage[]): Promise<Position[]>;
  /** Joins a consumer group and starts delivering batches; resolves once the member has joined. */
  subscribe(opts: SubscribeOptions): Promise<Subscription>;
  openReader(opts: ReaderOptions): Promise<PartitionReader>;
  /** The high watermark: offset of the next record to be written to the partition. */
  endOffset(topic: string, partition: number): Promise<bigint>;
  /**
   * Ensures the topic exists with `partitions` partitions. Idempotent; throws if it exists with a
   * different partition count.
   */
  createTopic(name: string, partitions: number): Promise<void>;
  /** Number of partitions of an existing topic. */
  partitionCount(topic: string): Promise<number>;
  /** Stops subscriptions and readers and releases connections / files. */
  close(): Promise<void>;
}

/** Thrown for unknown topics, bad partitions and other caller errors (never retried). */
export class EventLogError extends Error {
  override name = "EventLogError";
}
