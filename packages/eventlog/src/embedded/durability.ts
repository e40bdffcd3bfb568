import type { Headers } from "../port";

/** One record as the embedded adapter persists it. */
export interface StoredRecord {
  topic: string;
  partition: number;
  offset: bigint;
  key: string;
  value: Uint8Array;
  headers: Headers;
  timestamp: number;
}

export interface CommittedOffset {
  groupId: string;
  topic: string;
  partition: number;
  /** The next offset the group will read. */
  offset: bigint;
}

/** Receives the persisted state, in write order, when a store is opened. */
export interface LoadSink {
  topic(name: string, partitions: number): void;
  record(record: StoredRecord): void;
  committed(offset: CommittedOffset): void;
}

/**
 * Where the embedded EventLog keeps its data. Every method resolves only once the change is durable
 * (for the variant's meaning of durable); calls are never concurrent for `append`.
 */
export interface Durability {
  readonly kind: string;
  load(sink: LoadSink): Promise<void>;
  createTopic(name: string, partitions: number): Promise<void>;
  /** Appends one publish batch (group commit of possibly several publish calls). All or nothing. */
  append(records: StoredRecord[]): Promise<void>;
  commit(offsets: CommittedOffset[]): Promise<void>;
  close(): Promise<void>;
}

/** No durability: the log lives as long as the process. */
export function memoryDurability(): Durability {
  return {
    kind: "memory",
    async load() {},
    async createTopic() {},
    async append() {},
    async commit() {},
    async close() {},
  };
}

/** Runs the returned function's calls one at a time, in call order (a failure does not block later calls). */
export function serialised<A extends unknown[], R>(
  fn: (...args: A) => Promise<R>,
): (...args: A) => Promise<R> {
  let tail: Promise<unknown> = Promise.resolve();
  return (...args: A) => {
    const run = () => fn(...args);
    const result = tail.then(run, run);
    tail = result.catch(() => {});
    return result;
  };
}
