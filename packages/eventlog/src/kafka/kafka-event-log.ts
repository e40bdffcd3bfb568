import {
  type Admin,
  type Consumer,
  type EachBatchPayload,
  type IHeaders,
  Kafka,
  type KafkaMessage,
  type logCreator,
  logLevel,
  Partitioners,
  type Producer,
} from "kafkajs";
import { partitionForKey } from "../partitioner";
import {
  type Batch,
  type EventLog,
  EventLogError,
  type Headers,
  type LogRecord,
  type OutgoingMessage,
  type PartitionReader,
  type Position,
  type ReaderOptions,
  type SubscribeOptions,
  type Subscription,
  type TopicPartition,
} from "../port";

export interface KafkaEventLogOptions {
  brokers: string[];
  clientId?: string;
  /** How long publish keeps retrying a write (brokers down, leader unavailable) before rejecting. Default 30 s. */
  publishTimeoutMs?: number;
  /** First delay between publish attempts, doubled per attempt up to `retryMaxMs`. Defaults 100 / 2,000 ms. */
  retryInitialMs?: number;
  retryMaxMs?: number;
  /** Most messages of one partition sent in one produce request (default 1,000). */
  maxMessagesPerRequest?: number;
  /**
   * Creates a missing topic. Default: the admin API (CreateTopics). Clusters without a controller —
   * librdkafka's mock cluster — cannot do that: pass the mock's own topic creation here, or pre-create.
   */
  createTopic?: (name: string, partitions: number) => Promise<void>;
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  /** Partitions a subscription processes at once (each one still strictly in order). Default 3. */
  partitionsConsumedConcurrently?: number;
  /** kafkajs log level (default ERROR) or a custom kafkajs logCreator. */
  logLevel?: logLevel;
  logCreator?: logCreator;
  /** Told when a subscription replaces a consumer that kafkajs gave up on (for logs / metrics). */
  onConsumerRestart?: (groupId: string, cause: unknown) => void;
}

/**
 * The EventLog on Kafka (kafkajs).
 *
 * Producer: acks=-1 (all in-sync replicas), not idempotent (librdkafka's mock cluster and some
 * managed clusters refuse InitProducerId), one request in flight per broker. Messages are routed
 * with Kafka's murmur2 partitioner (computed here, so the embedded adapter agrees). Each partition
 * has a send queue: publish calls are sent in call order, coalesced into one request per partition,
 * and a partition's queue is retried with exponential backoff until the write is acknowledged or
 * `publishTimeoutMs` passes — a partition's later messages never overtake earlier ones.
 *
 * Consumer: a kafkajs consumer group with auto-commit off; a batch's offsets are committed only
 * after the handler resolved. Replay readers use a throwaway group id with nothing committed.
 */
export async function openKafkaEventLog(opts: KafkaEventLogOptions): Promise<EventLog> {
  const log = new KafkaEventLog(opts);
  await log.connect();
  return log;
}

interface QueuedSend {
  messages: OutgoingMessage[];
  deadline: number;
  resolve(offsets: bigint[]): void;
  reject(error: unknown): void;
}

interface PartitionQueue {
  items: QueuedSend[];
  running: boolean;
}

class KafkaEventLog implements EventLog {
  private readonly kafka: Kafka;
  private readonly producer: Producer;
  private readonly admin: Admin;
  private readonly partitionCounts = new Map<string, number>();
  private readonly queues = new Map<string, PartitionQueue>();
  private readonly admission = new Map<string, Promise<void>>();
  private readonly closers = new Set<() => Promise<void>>();
  private readonly publishTimeoutMs: number;
  private readonly retryInitialMs: number;
  private readonly retryMaxMs: number;
  private readonly maxPerRequest: number;
  private closed = false;

  constructor(private readonly opts: KafkaEventLogOptions) {
    this.publishTimeoutMs = opts.publishTimeoutMs ?? 30_000;
    this.retryInitialMs = opts.retryInitialMs ?? 100;
    this.retryMaxMs = opts.retryMaxMs ?? 2_000;
    this.maxPerRequest = opts.maxMessagesPerRequest ?? 1_000;
    this.kafka = new Kafka({
      clientId: opts.clientId ?? "excraft",
      brokers: opts.brokers,
      logLevel: opts.logLevel ?? logLevel.ERROR,
      ...(opts.logCreator ? { logCreator: opts.logCreator } : {}),
      connectionTimeout: 1_000,
      requestTimeout: 10_000,
      retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 2_000 },
    });
    this.producer = this.kafka.producer({
      idempotent: false,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
      // Short inner retries: the per-partition queue does the long, deadline-bounded retrying.
      retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 500 },
    });
    this.admin = this.kafka.admin({ retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1_000 } });
  }

  async connect(): Promise<void> {
    await this.admin.connect();
    await this.producer.connect();
  }

  // --- topics ---

  async createTopic(name: string, partitions: number): Promise<void> {
    this.assertOpen();
    if (!/^[A-Za-z0-9._-]{1,249}$/.test(name)) throw new EventLogError(`invalid topic name: ${name}`);
    if (!Number.isInteger(partitions) || partitions < 1) {
      throw new EventLogError(`partitions must be a positive integer, got ${partitions}`);
    }
    const existing = await this.lookupPartitions(name);
    if (existing !== undefined) {
      if (existing !== partitions) {
        throw new EventLogError(`topic ${name} exists with ${existing} partitions, not ${partitions}`);
      }
      return;
    }
    if (this.opts.createTopic) await this.opts.createTopic(name, partitions);
    else
      await this.admin.createTopics({
        topics: [{ topic: name, numPartitions: partitions }],
        waitForLeaders: true,
      });
    const deadline = Date.now() + 10_000;
    while ((await this.lookupPartitions(name)) !== partitions) {
      if (Date.now() > deadline) throw new EventLogError(`topic ${name} did not appear in the metadata`);
      await sleep(100);
    }
  }

  async partitionCount(topic: string): Promise<number> {
    const cached = this.partitionCounts.get(topic);
    if (cached !== undefined) return cached;
    const n = await this.lookupPartitions(topic);
    if (n === undefined) throw new EventLogError(`unknown topic ${topic}`);
    return n;
  }

  /** Partition count from the cluster metadata, or undefined when the topic does not exist. */
  private async lookupPartitions(topic: string): Promise<number | undefined> {
    // listTopics asks for all topics, which never auto-creates one (a named metadata request may).
    const topics = await this.admin.listTopics();
    if (!topics.includes(topic)) return undefined;
    const meta = await this.admin.fetchTopicMetadata({ topics: [topic] });
    const n = meta.topics.find((t) => t.name === topic)?.partitions.length;
    if (n !== undefined && n > 0) this.partitionCounts.set(topic, n);
    return n;
  }

  async endOffset(topic: string, partition: number): Promise<bigint> {
    this.assertOpen();
    const offsets = await this.admin.fetchTopicOffsets(topic);
    const p = offsets.find((o) => o.partition === partition);
    if (!p) throw new EventLogError(`unknown partition ${topic}/${partition}`);
    return BigInt(p.high);
  }

  // --- publish ---

  async publish(topic: string, messages: OutgoingMessage[]): Promise<Position[]> {
    this.assertOpen();
    if (messages.length === 0) return [];
    const deadline = Date.now() + this.publishTimeoutMs;
    // Admission in call order per topic: a call whose partition count needs a metadata round trip
    // must not let a later call reach the partition queues first.
    const previous = this.admission.get(topic) ?? Promise.resolve();
    let admitted!: () => void;
    const gate = new Promise<void>((resolve) => {
      admitted = resolve;
    });
    const mine = previous.then(() => gate);
    this.admission.set(topic, mine);
    const sends: Promise<void>[] = [];
    const positions: Position[] = new Array(messages.length);
    try {
      await previous;
      const count = await this.partitionCountWithin(topic, deadline);
      const byPartition = new Map<number, { indexes: number[]; messages: OutgoingMessage[] }>();
      messages.forEach((m, i) => {
        const p = m.partition ?? partitionForKey(m.key, count);
        if (!Number.isInteger(p) || p < 0 || p >= count) {
          throw new EventLogError(`partition ${p} out of range for ${topic} (${count})`);
        }
        let group = byPartition.get(p);
        if (!group) {
          group = { indexes: [], messages: [] };
          byPartition.set(p, group);
        }
        group.indexes.push(i);
        group.messages.push(m);
      });
      for (const [partition, group] of byPartition) {
        sends.push(
          this.enqueue(topic, partition, group.messages, deadline).then((offsets) => {
            group.indexes.forEach((index, j) => {
              positions[index] = { partition, offset: offsets[j]! };
            });
          }),
        );
      }
    } finally {
      admitted();
      if (this.admission.get(topic) === mine) this.admission.delete(topic);
    }
    await Promise.all(sends);
    return positions;
  }

  private async partitionCountWithin(topic: string, deadline: number): Promise<number> {
    let delay = this.retryInitialMs;
    for (;;) {
      try {
        return await this.partitionCount(topic);
      } catch (error) {
        if (error instanceof EventLogError || Date.now() + delay > deadline) throw error;
        await sleep(delay);
        delay = Math.min(delay * 2, this.retryMaxMs);
      }
    }
  }

  private enqueue(topic: string, partition: number, messages: OutgoingMessage[], deadline: number) {
    const key = `${topic}\u0000${partition}`;
    let queue = this.queues.get(key);
    if (!queue) {
      queue = { items: [], running: false };
      this.queues.set(key, queue);
    }
    const q = queue;
    return new Promise<bigint[]>((resolve, reject) => {
      q.items.push({ messages, deadline, resolve, reject });
      if (!q.running) {
        q.running = true;
        void this.drain(topic, partition, q).finally(() => {
          q.running = false;
        });
      }
    });
  }

  /** Sends a partition's queued messages in order, one request at a time, retrying until acknowledged. */
  private async drain(topic: string, partition: number, q: PartitionQueue): Promise<void> {
    while (q.items.length > 0) {
      const take: QueuedSend[] = [];
      let n = 0;
      while (
        q.items.length > 0 &&
        (take.length === 0 || n + q.items[0]!.messages.length <= this.maxPerRequest)
      ) {
        const item = q.items.shift()!;
        take.push(item);
        n += item.messages.length;
      }
      let delay = this.retryInitialMs;
      let pending = take;
      while (pending.length > 0) {
        try {
          const base = await this.sendOnce(
            topic,
            partition,
            pending.flatMap((t) => t.messages),
          );
          let offset = base;
          for (const item of pending) {
            const offsets = item.messages.map(() => offset++);
            item.resolve(offsets);
          }
          pending = [];
        } catch (error) {
          // The write may or may not have happened: keep order by retrying the same messages first.
          const now = Date.now();
          const expired = pending.filter((t) => t.deadline <= now + delay || this.closed);
          for (const item of expired) {
            item.reject(
              new EventLogError(
                `publish to ${topic}/${partition} not acknowledged within the deadline: ${describe(error)}`,
                { cause: error },
              ),
            );
          }
          pending = pending.filter((t) => !expired.includes(t));
          if (pending.length > 0) {
            await sleep(delay);
            delay = Math.min(delay * 2, this.retryMaxMs);
          }
        }
      }
    }
  }

  private async sendOnce(topic: string, partition: number, messages: OutgoingMessage[]): Promise<bigint> {
    const meta = await this.producer.send({
      topic,
      acks: -1,
      timeout: 5_000,
      messages: messages.map((m) => ({
        key: m.key,
        value: Buffer.from(m.value.buffer, m.value.byteOffset, m.value.byteLength),
        partition,
        ...(m.headers ? { headers: { ...m.headers } } : {}),
      })),
    });
    const r = meta.find((x) => x.topicName === topic && x.partition === partition);
    const base = r?.baseOffset ?? r?.offset;
    if (r?.errorCode !== 0 || base === undefined) {
      throw new Error(`unexpected produce response for ${topic}/${partition}: ${JSON.stringify(meta)}`);
    }
    return BigInt(base);
  }

  // --- consume ---

  async subscribe(opts: SubscribeOptions): Promise<Subscription> {
    this.assertOpen();
    if (opts.topics.length === 0) throw new EventLogError("subscribe needs at least one topic");
    for (const t of opts.topics) await this.partitionCount(t);
    let assignment: TopicPartition[] = [];
    let joined!: () => void;
    const firstJoin = new Promise<void>((resolve) => {
      joined = resolve;
    });
    let stopped = false;
    let consumer: Consumer | undefined;
    let restartTimer: NodeJS.Timeout | undefined;
    let restartDelayMs = 500;

    /** The batch handler of consumer `c` (its commits go through `c`, never a replacement). */
    const eachBatchOf =
      (c: Consumer) =>
      async ({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload) => {
        const max = opts.maxBatchRecords ?? 500;
        const all = batch.messages.map((m) => toRecord(batch.topic, batch.partition, m));
        for (let i = 0; i < all.length; i += max) {
          const records = all.slice(i, i + max);
          const b: Batch = {
            topic: batch.topic,
            partition: batch.partition,
            records,
            highWatermark: BigInt(batch.highWatermark),
          };
          let delay = opts.retryBackoffMs ?? 200;
          for (;;) {
            if (!isRunning() || isStale()) return;
            try {
              await opts.eachBatch(b);
              break;
            } catch (error) {
              try {
                opts.onError?.(error, b);
              } catch {
                // a failing error hook must not stop delivery
              }
              // Redeliver the same records after a backoff; heartbeat so the group keeps us
              // (a rebalance makes heartbeat throw: the new owner then gets them from the last commit).
              await sleep(delay);
              delay = Math.min(delay * 2, 5_000);
              await heartbeat();
            }
          }
          const last = records[records.length - 1]!.offset;
          resolveOffset(last.toString());
          await c.commitOffsets([
            { topic: batch.topic, partition: batch.partition, offset: (last + 1n).toString() },
          ]);
          await heartbeat();
        }
      };

    /** A new kafkajs consumer for this subscription: connected, subscribed and running. */
    const startConsumer = async (): Promise<void> => {
      const c = this.kafka.consumer({
        groupId: opts.groupId,
        allowAutoTopicCreation: false,
        sessionTimeout: this.opts.sessionTimeoutMs ?? 10_000,
        heartbeatInterval: this.opts.heartbeatIntervalMs ?? 1_000,
        rebalanceTimeout: 20_000,
        maxWaitTimeInMs: 250,
        retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 2_000 },
      });
      consumer = c;
      c.on(c.events.GROUP_JOIN, (e) => {
        assignment = Object.entries(e.payload.memberAssignment).flatMap(([topic, partitions]) =>
          partitions.map((partition) => ({ topic, partition })),
        );
        restartDelayMs = 500;
        joined();
      });
      // kafkajs restarts a crashed consumer itself only for errors it deems retriable; after any
      // other crash (seen when a group coordinator's broker goes down) the consumer would stay dead
      // and the subscription would silently stop. Replace it: consumption resumes from the commits.
      c.on(c.events.CRASH, (e) => {
        if (e.payload.restart || stopped || consumer !== c) return;
        assignment = [];
        scheduleRestart(e.payload.error);
      });
      await c.connect();
      await c.subscribe({ topics: opts.topics, fromBeginning: opts.fromBeginning ?? false });
      await c.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: this.opts.partitionsConsumedConcurrently ?? 3,
        eachBatch: eachBatchOf(c),
      });
    };

    const scheduleRestart = (cause: unknown) => {
      this.opts.onConsumerRestart?.(opts.groupId, cause);
      const delay = restartDelayMs;
      restartDelayMs = Math.min(restartDelayMs * 2, 10_000);
      restartTimer = setTimeout(() => {
        if (stopped) return;
        const old = consumer;
        void (async () => {
          await old?.disconnect().catch(() => {});
          if (stopped) return;
          await startConsumer().catch((error) => {
            if (!stopped) scheduleRestart(error);
          });
        })();
      }, delay);
    };

    const stop = async () => {
      if (stopped) return;
      stopped = true;
      clearTimeout(restartTimer);
      this.closers.delete(stop);
      assignment = [];
      await consumer?.disconnect();
    };
    this.closers.add(stop);
    try {
      await startConsumer();
      await withTimeout(firstJoin, 60_000, `joining consumer group ${opts.groupId}`);
    } catch (error) {
      await stop();
      throw error;
    }
    return { assignment: () => [...assignment], stop };
  }

  async openReader(opts: ReaderOptions): Promise<PartitionReader> {
    this.assertOpen();
    const count = await this.partitionCount(opts.topic);
    if (!Number.isInteger(opts.partition) || opts.partition < 0 || opts.partition >= count) {
      throw new EventLogError(`unknown partition ${opts.topic}/${opts.partition}`);
    }
    const reader = new KafkaReader(this.kafka, opts);
    const close = () => reader.close();
    this.closers.add(close);
    reader.onClose = () => this.closers.delete(close);
    try {
      await reader.start();
    } catch (error) {
      await reader.close();
      throw error;
    }
    return reader;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const close of [...this.closers]) await close().catch(() => {});
    // Let queued sends finish or fail: a publish in retry gets rejected at its next failure.
    while ([...this.queues.values()].some((q) => q.running)) await sleep(20);
    await this.producer.disconnect();
    await this.admin.disconnect();
  }

  private assertOpen(): void {
    if (this.closed) throw new EventLogError("the event log is closed");
  }
}

/** The part of kafkajs's internal Cluster / Broker the replay reader uses (kafkajs 2.2.x, no longer released). */
interface LowLevelCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  addTargetTopic(topic: string): Promise<void>;
  refreshMetadata(): Promise<void>;
  findLeaderForPartitions(topic: string, partitions: number[]): Record<string, number[]>;
  findBroker(args: { nodeId: string }): Promise<{
    fetch(args: {
      maxWaitTime: number;
      minBytes: number;
      maxBytes: number;
      isolationLevel: number;
      topics: { topic: string; partitions: { partition: number; fetchOffset: string; maxBytes: number }[] }[];
    }): Promise<{
      responses: {
        topicName: string;
        partitions: {
          partition: number;
          highWatermark: string;
          messages: (KafkaMessage & { isControlRecord?: boolean })[];
        }[];
      }[];
    }>;
  }>;
}

/**
 * kafkajs has no public low-level fetch, and a consumer group costs a join (3 s initial rebalance
 * delay on brokers and on the mock) and commits. The reader therefore uses the Cluster that kafkajs
 * builds for its own clients, through the Kafka instance's private factory symbol.
 */
function lowLevelCluster(kafka: Kafka): LowLevelCluster {
  const symbol = Object.getOwnPropertySymbols(kafka).find(
    (s) => s.description === "private:Kafka:createCluster",
  );
  const factory = symbol && (kafka as unknown as Record<symbol, unknown>)[symbol];
  if (typeof factory !== "function") throw new Error("unsupported kafkajs version: no cluster factory");
  return factory({ allowAutoTopicCreation: false, metadataMaxAge: 60_000 }) as LowLevelCluster;
}

const READ_COMMITTED = 1;

/** Replay reader: Fetch requests to the partition's leader from the reader's position; no group, no commits. */
class KafkaReader implements PartitionReader {
  private readonly cluster: LowLevelCluster;
  private next: bigint;
  private closed = false;
  onClose: (() => void) | undefined;

  constructor(
    kafka: Kafka,
    private readonly opts: ReaderOptions,
  ) {
    this.next = opts.offset ?? 0n;
    if (this.next < 0n) throw new EventLogError(`offset must be >= 0, got ${this.next}`);
    this.cluster = lowLevelCluster(kafka);
  }

  async start(): Promise<void> {
    await this.cluster.connect();
    await this.cluster.addTargetTopic(this.opts.topic);
  }

  async read(opts: { maxRecords?: number; maxWaitMs?: number } = {}): Promise<LogRecord[]> {
    const max = opts.maxRecords ?? 500;
    const deadline = Date.now() + (opts.maxWaitMs ?? 1_000);
    const { topic, partition } = this.opts;
    let delay = 50;
    let lastError: unknown;
    while (!this.closed) {
      const left = deadline - Date.now();
      try {
        const leaders = this.cluster.findLeaderForPartitions(topic, [partition]);
        const nodeId = Object.keys(leaders)[0];
        if (nodeId === undefined) throw new Error(`no leader known for ${topic}/${partition}`);
        const broker = await this.cluster.findBroker({ nodeId });
        const position = this.next;
        const fetchStarted = Date.now();
        const { responses } = await broker.fetch({
          // Short polls: the mock cluster does not end a long poll early when data arrives.
          maxWaitTime: Math.max(0, Math.min(left, 500)),
          minBytes: 1,
          maxBytes: 4 * 1024 * 1024,
          isolationLevel: READ_COMMITTED,
          topics: [
            { topic, partitions: [{ partition, fetchOffset: position.toString(), maxBytes: 1024 * 1024 }] },
          ],
        });
        if (this.next !== position) continue; // seek() while fetching
        const data = responses
          .find((r) => r.topicName === topic)
          ?.partitions.find((p) => p.partition === partition);
        const out: LogRecord[] = [];
        for (const m of data?.messages ?? []) {
          // Record batches may start before the fetch offset; control records are transaction markers.
          if (m.isControlRecord || BigInt(m.offset) < position) continue;
          out.push(toRecord(topic, partition, m));
          if (out.length >= max) break;
        }
        if (out.length > 0) {
          this.next = out[out.length - 1]!.offset + 1n;
          return out;
        }
        if (Date.now() >= deadline) return [];
        // A broker that answers an empty fetch at once (ignoring maxWaitTime) must not make us spin.
        if (Date.now() - fetchStarted < 20) await sleep(Math.min(50, Math.max(0, deadline - Date.now())));
      } catch (error) {
        if (this.closed) return [];
        // Leader moved or down, connection lost: refresh the metadata and try again until the deadline.
        lastError = error;
        if (Date.now() + delay >= deadline) {
          throw new EventLogError(`reading ${topic}/${partition} at ${this.next}: ${describe(error)}`, {
            cause: lastError,
          });
        }
        await sleep(delay);
        delay = Math.min(delay * 2, 1_000);
        await this.cluster.refreshMetadata().catch(() => {});
      }
    }
    return [];
  }

  seek(offset: bigint): void {
    if (offset < 0n) throw new EventLogError(`offset must be >= 0, got ${offset}`);
    this.next = offset;
  }

  position(): bigint {
    return this.next;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.onClose?.();
    await this.cluster.disconnect();
  }
}

function toRecord(topic: string, partition: number, m: KafkaMessage): LogRecord {
  return {
    topic,
    partition,
    offset: BigInt(m.offset),
    key: m.key ? m.key.toString("utf8") : "",
    value: m.value
      ? new Uint8Array(m.value.buffer, m.value.byteOffset, m.value.byteLength)
      : new Uint8Array(0),
    headers: decodeHeaders(m.headers),
    timestamp: Number(m.timestamp),
  };
}

function decodeHeaders(h: IHeaders | undefined): Headers {
  const out: Headers = {};
  if (!h) return out;
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined) continue;
    const one = Array.isArray(v) ? v[v.length - 1] : v;
    if (one !== undefined) out[k] = typeof one === "string" ? one : one.toString("utf8");
  }
  return out;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
