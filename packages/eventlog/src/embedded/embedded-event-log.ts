import { partitionForKey } from "../partitioner";
import {
  type Batch,
  type EventLog,
  EventLogError,
  type LogRecord,
  type OutgoingMessage,
  type PartitionReader,
  type Position,
  type ReaderOptions,
  type SubscribeOptions,
  type Subscription,
  type TopicPartition,
} from "../port";
import { type CommittedOffset, type Durability, memoryDurability } from "./durability";

export interface EmbeddedEventLogOptions {
  /** Where the log is kept (default: memory only). See memoryDurability / fileDurability / postgresDurability. */
  durability?: Durability;
}

/**
 * The in-process EventLog. The whole log is held in memory (and, with file / PostgreSQL durability,
 * persisted and reloaded on open), so it suits one-process deployments and tests, not unbounded
 * volumes: there is no retention.
 *
 * Publishing is group-committed: concurrent publish calls are written by one durability write (one
 * fsync / one transaction), in call order, and become visible to readers only after that write.
 * Consumer groups are coordinated in-process: partitions of a topic are spread round-robin over the
 * group's members in join order; one loop per (group, partition) hands batches to the current owner,
 * so a partition is never processed by two members at once.
 */
export async function openEmbeddedEventLog(opts: EmbeddedEventLogOptions = {}): Promise<EventLog> {
  const log = new EmbeddedEventLog(opts.durability ?? memoryDurability());
  await log.open();
  return log;
}

class PartitionLog {
  readonly records: LogRecord[] = [];
  private waiters = new Set<() => void>();
  get end(): bigint {
    return BigInt(this.records.length);
  }
  /** Resolves on the next append or when `wake` is called. */
  waitForAppend(): { promise: Promise<void>; wake: () => void } {
    let wake!: () => void;
    const promise = new Promise<void>((resolve) => {
      wake = () => {
        this.waiters.delete(wake);
        resolve();
      };
      this.waiters.add(wake);
    });
    return { promise, wake };
  }
  notify(): void {
    for (const w of [...this.waiters]) w();
  }
}

interface PendingPublish {
  topic: string;
  partitions: number[];
  messages: OutgoingMessage[];
  resolve(positions: Position[]): void;
  reject(error: unknown): void;
}

class EmbeddedEventLog implements EventLog {
  private readonly topics = new Map<string, PartitionLog[]>();
  private readonly committed = new Map<string, bigint>(); // `${group}\0${topic}\0${partition}`
  private readonly groups = new Map<string, Group>();
  private readonly readers = new Set<EmbeddedReader>();
  private pending: PendingPublish[] = [];
  private flushing: Promise<void> | undefined;
  private closed = false;

  constructor(readonly durability: Durability) {}

  async open(): Promise<void> {
    await this.durability.load({
      topic: (name, partitions) => {
        if (!this.topics.has(name)) this.topics.set(name, newPartitions(partitions));
      },
      record: (r) => {
        const p = this.topics.get(r.topic)?.[r.partition];
        if (!p) throw new Error(`stored record for unknown ${r.topic}/${r.partition}`);
        if (r.offset !== p.end)
          throw new Error(`stored offsets of ${r.topic}/${r.partition} are not contiguous`);
        p.records.push({ ...r });
      },
      committed: (o) => {
        this.committed.set(committedKey(o.groupId, o.topic, o.partition), o.offset);
      },
    });
  }

  async createTopic(name: string, partitions: number): Promise<void> {
    this.assertOpen();
    if (!/^[A-Za-z0-9._-]{1,249}$/.test(name)) throw new EventLogError(`invalid topic name: ${name}`);
    if (!Number.isInteger(partitions) || partitions < 1) {
      throw new EventLogError(`partitions must be a positive integer, got ${partitions}`);
    }
    const existing = this.topics.get(name);
    if (existing) {
      if (existing.length !== partitions) {
        throw new EventLogError(`topic ${name} exists with ${existing.length} partitions, not ${partitions}`);
      }
      return;
    }
    await this.durability.createTopic(name, partitions);
    if (!this.topics.has(name)) this.topics.set(name, newPartitions(partitions));
  }

  async partitionCount(topic: string): Promise<number> {
    return this.partitionsOf(topic).length;
  }

  async endOffset(topic: string, partition: number): Promise<bigint> {
    return this.partitionLog(topic, partition).end;
  }

  publish(topic: string, messages: OutgoingMessage[]): Promise<Position[]> {
    try {
      this.assertOpen();
      const partitions = this.partitionsOf(topic);
      const targets = messages.map((m) => {
        if (m.partition === undefined) return partitionForKey(m.key, partitions.length);
        if (!Number.isInteger(m.partition) || m.partition < 0 || m.partition >= partitions.length) {
          throw new EventLogError(
            `partition ${m.partition} out of range for ${topic} (${partitions.length})`,
          );
        }
        return m.partition;
      });
      if (messages.length === 0) return Promise.resolve([]);
      return new Promise((resolve, reject) => {
        this.pending.push({ topic, partitions: targets, messages, resolve, reject });
        this.flushing ??= this.flush();
      });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Writes everything pending in one durability append per round, then makes it visible. */
  private async flush(): Promise<void> {
    while (this.pending.length > 0) {
      const round = this.pending;
      this.pending = [];
      const next = new Map<PartitionLog, bigint>();
      const now = Date.now();
      const staged: { log: PartitionLog; record: LogRecord }[] = [];
      const positions: Position[][] = [];
      for (const item of round) {
        const logs = this.partitionsOf(item.topic);
        positions.push(
          item.messages.map((m, i) => {
            const partition = item.partitions[i]!;
            const log = logs[partition]!;
            const offset = next.get(log) ?? log.end;
            next.set(log, offset + 1n);
            staged.push({
              log,
              record: {
                topic: item.topic,
                partition,
                offset,
                key: m.key,
                value: m.value,
                headers: m.headers ? { ...m.headers } : {},
                timestamp: now,
              },
            });
            return { partition, offset };
          }),
        );
      }
      try {
        await this.durability.append(staged.map((s) => s.record));
      } catch (error) {
        for (const item of round) item.reject(error);
        continue;
      }
      const touched = new Set<PartitionLog>();
      for (const s of staged) {
        s.log.records.push(s.record);
        touched.add(s.log);
      }
      for (const log of touched) log.notify();
      for (const [i, item] of round.entries()) item.resolve(positions[i]!);
    }
    this.flushing = undefined;
  }

  async subscribe(opts: SubscribeOptions): Promise<Subscription> {
    this.assertOpen();
    if (opts.topics.length === 0) throw new EventLogError("subscribe needs at least one topic");
    for (const t of opts.topics) this.partitionsOf(t);
    let group = this.groups.get(opts.groupId);
    if (!group) {
      group = new Group(opts.groupId, this);
      this.groups.set(opts.groupId, group);
    }
    return group.join(opts);
  }

  async openReader(opts: ReaderOptions): Promise<PartitionReader> {
    this.assertOpen();
    const reader = new EmbeddedReader(this.partitionLog(opts.topic, opts.partition), opts.offset ?? 0n, () =>
      this.readers.delete(reader),
    );
    this.readers.add(reader);
    return reader;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const g of [...this.groups.values()]) await g.stopAll();
    for (const r of [...this.readers]) await r.close();
    await this.flushing;
    await this.durability.close();
  }

  // --- used by Group ---

  partitionsOf(topic: string): PartitionLog[] {
    const t = this.topics.get(topic);
    if (!t) throw new EventLogError(`unknown topic ${topic}`);
    return t;
  }

  partitionLog(topic: string, partition: number): PartitionLog {
    const p = this.partitionsOf(topic)[partition];
    if (!p) throw new EventLogError(`unknown partition ${topic}/${partition}`);
    return p;
  }

  committedOffset(groupId: string, topic: string, partition: number): bigint | undefined {
    return this.committed.get(committedKey(groupId, topic, partition));
  }

  async commit(offset: CommittedOffset): Promise<void> {
    await this.durability.commit([offset]);
    this.committed.set(committedKey(offset.groupId, offset.topic, offset.partition), offset.offset);
  }

  removeGroup(group: Group): void {
    if (this.groups.get(group.id) === group) this.groups.delete(group.id);
  }

  private assertOpen(): void {
    if (this.closed) throw new EventLogError("the event log is closed");
  }
}

function newPartitions(n: number): PartitionLog[] {
  return Array.from({ length: n }, () => new PartitionLog());
}

function committedKey(groupId: string, topic: string, partition: number): string {
  return `${groupId}\u0000${topic}\u0000${partition}`;
}

interface Member {
  id: number;
  opts: SubscribeOptions;
  stopped: boolean;
}

/** An in-process consumer group: membership, assignment and one delivery loop per partition. */
class Group {
  private members: Member[] = [];
  private nextMemberId = 1;
  private readonly loops = new Map<string, PartitionLoop>();

  constructor(
    readonly id: string,
    readonly log: EmbeddedEventLog,
  ) {}

  join(opts: SubscribeOptions): Subscription {
    const member: Member = { id: this.nextMemberId++, opts, stopped: false };
    this.members.push(member);
    this.rebalance(opts.fromBeginning ?? false);
    return {
      assignment: () => (member.stopped ? [] : this.assignmentOf(member)),
      stop: () => this.leave(member),
    };
  }

  ownerOf(topic: string, partition: number): Member | undefined {
    const candidates = this.members.filter((m) => m.opts.topics.includes(topic));
    return candidates.length === 0 ? undefined : candidates[partition % candidates.length];
  }

  private assignmentOf(member: Member): TopicPartition[] {
    const out: TopicPartition[] = [];
    for (const topic of member.opts.topics) {
      const n = this.log.partitionsOf(topic).length;
      for (let p = 0; p < n; p++) if (this.ownerOf(topic, p) === member) out.push({ topic, partition: p });
    }
    return out;
  }

  /** Starts loops for newly covered partitions and wakes all loops so they pick up the new owners. */
  private rebalance(fromBeginning: boolean): void {
    for (const m of this.members) {
      for (const topic of m.opts.topics) {
        const n = this.log.partitionsOf(topic).length;
        for (let p = 0; p < n; p++) {
          const key = `${topic}\u0000${p}`;
          if (this.loops.has(key)) continue;
          const loop = new PartitionLoop(this, topic, p, fromBeginning, () => this.loops.delete(key));
          this.loops.set(key, loop);
          loop.start();
        }
      }
    }
    for (const loop of this.loops.values()) loop.wake();
  }

  private async leave(member: Member): Promise<void> {
    if (member.stopped) return;
    member.stopped = true;
    this.members = this.members.filter((m) => m !== member);
    this.rebalance(false);
    // Wait until no loop is still running a batch of this member.
    await Promise.all([...this.loops.values()].map((l) => l.idleFor(member)));
    if (this.members.length === 0) {
      await Promise.all([...this.loops.values()].map((l) => l.finished));
      if (this.members.length === 0) this.log.removeGroup(this);
    }
  }

  async stopAll(): Promise<void> {
    for (const m of [...this.members]) await this.leave(m);
  }
}

const MAX_BACKOFF_MS = 5_000;

class PartitionLoop {
  private position: bigint;
  private wakeCurrent: (() => void) | undefined;
  private inFlight: { member: Member; done: Promise<void> } | undefined;
  finished: Promise<void> = Promise.resolve();

  constructor(
    private readonly group: Group,
    private readonly topic: string,
    private readonly partition: number,
    fromBeginning: boolean,
    private readonly onExit: () => void,
  ) {
    const committed = group.log.committedOffset(group.id, topic, partition);
    this.position = committed ?? (fromBeginning ? 0n : group.log.partitionLog(topic, partition).end);
  }

  start(): void {
    this.finished = this.run().catch((error) => {
      this.onExit();
      process.stderr.write(
        `[eventlog] partition loop ${this.topic}/${this.partition} failed: ${String(error)}\n`,
      );
    });
  }

  wake(): void {
    this.wakeCurrent?.();
  }

  async idleFor(member: Member): Promise<void> {
    while (this.inFlight?.member === member) await this.inFlight.done;
  }

  private async run(): Promise<void> {
    const plog = this.group.log.partitionLog(this.topic, this.partition);
    let backoff = 0;
    for (;;) {
      const owner = this.group.ownerOf(this.topic, this.partition);
      if (!owner) {
        this.onExit(); // synchronously with the check, so a joining member starts a fresh loop
        return;
      }
      if (this.position >= plog.end) {
        const { promise, wake } = plog.waitForAppend();
        this.wakeCurrent = wake;
        await promise;
        continue;
      }
      const max = owner.opts.maxBatchRecords ?? 500;
      const start = Number(this.position);
      const records = plog.records.slice(start, start + max);
      const batch: Batch = {
        topic: this.topic,
        partition: this.partition,
        records,
        highWatermark: plog.end,
      };
      const last = records[records.length - 1]!.offset;
      let failed = false;
      const done = (async () => {
        try {
          await owner.opts.eachBatch(batch);
          await this.group.log.commit({
            groupId: this.group.id,
            topic: this.topic,
            partition: this.partition,
            offset: last + 1n,
          });
          this.position = last + 1n;
        } catch (error) {
          failed = true;
          try {
            owner.opts.onError?.(error, batch);
          } catch {
            // a failing error hook must not stop delivery
          }
        }
      })();
      this.inFlight = { member: owner, done };
      await done;
      this.inFlight = undefined;
      if (!failed) {
        backoff = 0;
        continue;
      }
      // Redeliver the same records (to whoever owns the partition then) after a backoff.
      backoff = backoff === 0 ? (owner.opts.retryBackoffMs ?? 200) : Math.min(backoff * 2, MAX_BACKOFF_MS);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, backoff);
        this.wakeCurrent = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }
}

class EmbeddedReader implements PartitionReader {
  private next: bigint;
  private closed = false;
  private wakeCurrent: (() => void) | undefined;

  constructor(
    private readonly plog: PartitionLog,
    offset: bigint,
    private readonly onClose: () => void,
  ) {
    if (offset < 0n) throw new EventLogError(`offset must be >= 0, got ${offset}`);
    this.next = offset;
  }

  async read(opts: { maxRecords?: number; maxWaitMs?: number } = {}): Promise<LogRecord[]> {
    const max = opts.maxRecords ?? 500;
    const deadline = Date.now() + (opts.maxWaitMs ?? 1_000);
    while (!this.closed && this.next >= this.plog.end) {
      const left = deadline - Date.now();
      if (left <= 0) return [];
      const { promise, wake } = this.plog.waitForAppend();
      this.wakeCurrent = wake;
      const timer = setTimeout(wake, left);
      await promise;
      clearTimeout(timer);
    }
    if (this.closed) return [];
    const start = Number(this.next);
    const records = this.plog.records.slice(start, start + max);
    this.next += BigInt(records.length);
    return records;
  }

  seek(offset: bigint): void {
    if (offset < 0n) throw new EventLogError(`offset must be >= 0, got ${offset}`);
    this.next = offset;
  }

  position(): bigint {
    return this.next;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wakeCurrent?.();
    this.onClose();
  }
}
