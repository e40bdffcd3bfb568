/**
 * The matching-engine service for one shard: the single writer that turns orders.v1 (partition =
 * shard) into executions.v1 and marketdata.v1 (also partition = shard, so each shard's events stay
 * in one totally ordered stream). Outputs go out as records of many events (ADR 10).
 *
 * Life cycle: wait as a standby for the shard's leader lease → load the latest snapshot → replay
 * orders.v1 from the snapshot's offset → process batches: apply, publish the outputs durably, and
 * only then move on; snapshot every N commands or T ms (after the outputs it covers are durable).
 */
import type { EventLog, PartitionReader } from "@excraft/eventlog";
import type { Logger } from "@excraft/platform";
import type pg from "pg";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { BookKind } from "../engine.ts";
import { acquireLeaderLease, type LeaderLease, migrateLeaseTable } from "./leader-lease.ts";
import { type OutputRecord, ShardProcessor } from "./shard-processor.ts";
import { SnapshotStore } from "./snapshot-store.ts";

export const TOPICS = {
  orders: "orders.v1",
  executions: "executions.v1",
  marketData: "marketdata.v1",
} as const;

export interface EngineServiceOptions {
  shard: number;
  /** Number of shards = partitions of orders.v1, executions.v1 and marketdata.v1. */
  shardCount: number;
  eventLog: EventLog;
  pool: pg.Pool;
  databaseUrl: string;
  logger: Logger;
  registry?: Registry;
  bookKind?: BookKind;
  snapshotEveryCommands?: number;
  snapshotEveryMs?: number;
  /** orders.v1 records read and applied per batch at most (default 10,000). */
  maxBatchRecords?: number;
  /** Soft size limit of one output record (default 64 KiB). */
  maxRecordBytes?: number;
  /** Called when the service stops on an error it cannot recover from in place (lost lease, publish failure). */
  onFatal?: (error: unknown) => void;
}

interface AppliedBatch {
  executions: OutputRecord[];
  marketData: OutputRecord[];
  commands: number;
  /** orders.v1 offset after the batch: what the metrics report once it is durable. */
  inputOffset: bigint;
  started: number;
}

/**
 * Records per read: about what one fetch of the Kafka reader returns (1 MiB of ~100-byte
 * commands), so no fetched record is decoded only to be fetched again by the next read.
 */
const DEFAULT_MAX_BATCH_RECORDS = 10_000;

/** Most bytes of output records sent in one publish call (one produce request). */
const MAX_PUBLISH_BYTES = 768 * 1024;

export type EngineServiceStatus =
  | "starting"
  | "standby"
  | "replaying"
  | "active"
  | "stopping"
  | "stopped"
  | "failed";

export class EngineShardService {
  private readonly snapshots: SnapshotStore;
  private readonly metrics: EngineMetrics;
  private lease: LeaderLease | undefined;
  private reader: PartitionReader | undefined;
  private current: ShardProcessor | undefined;
  private loop: Promise<void> | undefined;
  private readonly abort = new AbortController();
  private commandsSinceSnapshot = 0;
  private lastSnapshotAt = Date.now();
  /** The snapshot being compressed and stored, if any (one at a time). */
  private snapshotting: Promise<void> | undefined;
  private snapshotError: unknown;
  status: EngineServiceStatus = "starting";

  constructor(private readonly options: EngineServiceOptions) {
    if (!Number.isInteger(options.shard) || options.shard < 0 || options.shard >= options.shardCount) {
      throw new Error(`shard must be an integer in 0..${options.shardCount - 1}`);
    }
    this.snapshots = new SnapshotStore(options.pool);
    this.metrics = engineMetrics(options.registry, options.shard);
  }

  /** The live state machine (for queries); undefined until this instance leads. */
  get processor(): ShardProcessor | undefined {
    return this.current;
  }

  /** Resolves once this instance leads the shard and has caught up with orders.v1 at start. */
  async start(): Promise<void> {
    const { shard, eventLog, logger } = this.options;
    await this.snapshots.migrate();
    await migrateLeaseTable(this.options.pool);
    for (const topic of Object.values(TOPICS)) await eventLog.createTopic(topic, this.options.shardCount);
    this.lease = await acquireLeaderLease({
      databaseUrl: this.options.databaseUrl,
      shard,
      signal: this.abort.signal,
      onStandby: () => {
        this.status = "standby";
        logger.info({ shard }, "engine shard is held by another instance; standing by");
      },
      onLost: (error) => this.fail(error),
    });
    this.metrics.epoch.set(Number(this.lease.epoch));
    const state = await this.snapshots.latest(shard);
    const processor = new ShardProcessor(
      {
        shard,
        epoch: this.lease.epoch,
        bookKind: this.options.bookKind,
        maxRecordBytes: this.options.maxRecordBytes,
      },
      state,
    );
    this.reader = await eventLog.openReader({
      topic: TOPICS.orders,
      partition: shard,
      offset: processor.inputOffset,
    });
    this.status = "replaying";
    const target = await eventLog.endOffset(TOPICS.orders, shard);
    logger.info(
      {
        shard,
        epoch: this.lease.epoch.toString(),
        fromOffset: processor.inputOffset.toString(),
        toOffset: target.toString(),
      },
      state
        ? "restored engine snapshot; replaying orders.v1"
        : "no engine snapshot; replaying orders.v1 from the start",
    );
    await this.pump(processor, () => processor.inputOffset >= target);
    this.current = processor;
    this.metrics.inputOffset.set(Number(processor.inputOffset));
    this.status = "active";
    this.metrics.leader.set(1);
    logger.info({ shard, offset: processor.inputOffset.toString() }, "engine shard active");
    this.loop = this.run(processor);
  }

  /** Stops after the batch in flight, writes a final snapshot and releases the lease. */
  async stop(): Promise<void> {
    if (this.status === "stopped") return;
    const wasRunning = this.status === "active";
    this.status = "stopping";
    this.abort.abort();
    await this.loop?.catch(() => {});
    await this.snapshotting;
    if (wasRunning && this.current) {
      // A final snapshot makes the next start fast; without it the next start replays more.
      await this.snapshot(this.current).catch((error) =>
        this.options.logger.warn({ err: error, shard: this.options.shard }, "final engine snapshot failed"),
      );
    }
    await this.reader?.close().catch(() => {});
    await this.lease?.release();
    this.metrics.leader.set(0);
    this.status = "stopped";
  }

  private async run(processor: ShardProcessor): Promise<void> {
    try {
      await this.pump(processor, () => this.abort.signal.aborted);
    } catch (error) {
      this.fail(error);
    }
  }

  /**
   * Reads, applies and publishes until `done()`. Applying batch k+1 overlaps with publishing batch
   * k, but publishes never overlap each other (output order is the sequence order). A snapshot
   * captures the state only when no publish is in flight, so it never covers an event that is not
   * durable; compressing and storing it then runs alongside the following batches.
   */
  private async pump(processor: ShardProcessor, done: () => boolean): Promise<void> {
    let publishing: Promise<void> | undefined;
    try {
      while (!done()) {
        if (this.snapshotError !== undefined) throw this.snapshotError;
        const records = await this.reader!.read({
          maxRecords: this.options.maxBatchRecords ?? DEFAULT_MAX_BATCH_RECORDS,
          maxWaitMs: 100,
        });
        if (records.length > 0) {
          const batch = this.apply(processor, records);
          await publishing;
          publishing = this.publishBatch(batch);
        }
        if (this.snapshotDue() && this.snapshotting === undefined) {
          await publishing;
          publishing = undefined;
          this.snapshotting = this.snapshot(processor)
            .catch((error: unknown) => {
              this.snapshotError = error;
            })
            .finally(() => {
              this.snapshotting = undefined;
            });
        }
      }
    } finally {
      await publishing;
    }
  }

  private snapshotDue(): boolean {
    return (
      this.commandsSinceSnapshot >= (this.options.snapshotEveryCommands ?? 50_000) ||
      (this.commandsSinceSnapshot > 0 &&
        Date.now() - this.lastSnapshotAt >= (this.options.snapshotEveryMs ?? 10_000))
    );
  }

  private apply(processor: ShardProcessor, records: { offset: bigint; value: Uint8Array }[]): AppliedBatch {
    const started = performance.now();
    for (const record of records) processor.apply(record.offset, record.value);
    return { ...processor.drain(), commands: records.length, inputOffset: processor.inputOffset, started };
  }

  private async publishBatch(batch: AppliedBatch): Promise<void> {
    await Promise.all([
      this.publish(TOPICS.executions, batch.executions),
      this.publish(TOPICS.marketData, batch.marketData),
    ]);
    this.metrics.batchSeconds.observe((performance.now() - batch.started) / 1000);
    this.commandsSinceSnapshot += batch.commands;
    this.metrics.commands.inc(batch.commands);
    this.metrics.published(TOPICS.executions, batch.executions);
    this.metrics.published(TOPICS.marketData, batch.marketData);
    this.metrics.inputOffset.set(Number(batch.inputOffset));
  }

  /**
   * Publishes a batch's records of one topic to partition = shard, in order. One publish call
   * becomes one produce request (one Kafka record batch), so calls carry at most
   * MAX_PUBLISH_BYTES, under the brokers' 1 MiB default message.max.bytes.
   */
  private async publish(topic: string, records: OutputRecord[]): Promise<void> {
    const partition = this.options.shard;
    const key = String(partition);
    let start = 0;
    while (start < records.length) {
      let end = start + 1;
      let bytes = records[start]!.value.length;
      while (end < records.length && bytes + records[end]!.value.length <= MAX_PUBLISH_BYTES) {
        bytes += records[end]!.value.length;
        end++;
      }
      await this.options.eventLog.publish(
        topic,
        records.slice(start, end).map((record) => ({ key, value: record.value, partition })),
      );
      start = end;
    }
  }

  /** Captures the state now (synchronously), then compresses and stores it. */
  private async snapshot(processor: ShardProcessor): Promise<void> {
    const stopTimer = this.metrics.snapshotSeconds.startTimer();
    const saved = this.snapshots.save(processor.state(), this.lease!.epoch);
    this.commandsSinceSnapshot = 0;
    this.lastSnapshotAt = Date.now();
    const bytes = await saved;
    stopTimer();
    this.metrics.snapshotBytes.set(bytes);
  }

  private fail(error: unknown): void {
    if (this.status === "stopping" || this.status === "stopped" || this.status === "failed") return;
    this.status = "failed";
    this.abort.abort();
    this.metrics.leader.set(0);
    this.options.logger.error({ err: error, shard: this.options.shard }, "engine shard stopped on error");
    this.options.onFatal?.(error);
  }
}

type EngineMetrics = ReturnType<typeof engineMetrics>;

/** The engine's metrics, labelled with the shard. Re-uses metrics already in the registry (several shards per process). */
function engineMetrics(registry: Registry | undefined, shard: number) {
  const registers = registry ? [registry] : [];
  const existing = (name: string) => registry?.getSingleMetric(name);
  const counter = (name: string, help: string, labelNames: string[]) =>
    (existing(name) as Counter | undefined) ?? new Counter({ name, help, labelNames, registers });
  const gauge = (name: string, help: string) =>
    (
      (existing(name) as Gauge | undefined) ?? new Gauge({ name, help, labelNames: ["shard"], registers })
    ).labels({
      shard: String(shard),
    });
  const histogram = (name: string, help: string, buckets: number[]) =>
    (
      (existing(name) as Histogram | undefined) ??
      new Histogram({ name, help, labelNames: ["shard"], registers, buckets })
    ).labels({ shard: String(shard) });
  const events = counter("engine_events_published_total", "events published by the engine", [
    "shard",
    "topic",
  ]);
  const records = counter(
    "engine_records_published_total",
    "output records (event batches, ADR 10) published by the engine",
    ["shard", "topic"],
  );
  return {
    commands: counter("engine_commands_total", "orders.v1 commands applied", ["shard"]).labels({
      shard: String(shard),
    }),
    published: (topic: string, out: OutputRecord[]) => {
      if (out.length === 0) return;
      let n = 0;
      for (const record of out) n += record.events;
      events.inc({ shard: String(shard), topic }, n);
      records.inc({ shard: String(shard), topic }, out.length);
    },
    batchSeconds: histogram(
      "engine_batch_seconds",
      "apply + durable publish time per batch",
      [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    ),
    snapshotSeconds: histogram(
      "engine_snapshot_seconds",
      "snapshot write time",
      [0.01, 0.05, 0.1, 0.5, 1, 5],
    ),
    snapshotBytes: gauge("engine_snapshot_bytes", "size of the last snapshot (gzip)"),
    inputOffset: gauge("engine_input_offset", "next orders.v1 offset to apply"),
    epoch: gauge("engine_epoch", "fencing epoch of this leader"),
    leader: gauge("engine_is_leader", "1 while this instance leads the shard"),
  };
}
