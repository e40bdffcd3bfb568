/**
 * The market-data projector: consumes marketdata.v1 (trades, depth diffs) and executions.v1
 * (MarketChanged only) through the EventLog port with a consumer group, and keeps
 *  - trades, aggregate trades and klines of every interval in PostgreSQL (history survives restarts),
 *  - per-market in-memory state for the rolling tickers and live kline updates,
 *  - the market registry current,
 * then tells its listeners (the WebSocket streams) what changed, after the batch is durable.
 *
 * Idempotency (ADR 7): per (topic, shard) it remembers the highest epoch and sequence applied; an
 * event with a lower epoch (a fenced-off writer) or a sequence already applied (a re-delivery or a
 * replaying new leader) is dropped. The marketdata.v1 cursor is written in the same transaction as
 * the rows it produced. A gap (sequence > last + 1) is counted and logged, then applied.
 */
import type { Batch, EventLog, Subscription } from "@excraft/eventlog";
import type { Logger } from "@excraft/platform";
import { decodeExecutionRecord, decodeMarketDataRecord } from "@excraft/proto/records";
import type { MarketRegistry } from "../markets.ts";
import type { GatewayMetrics } from "../metrics.ts";
import { MarketState } from "./market-state.ts";
import type { MarketDataStore } from "./store.ts";
import type { AggTrade, DepthDiff, Kline, StreamCursor, Trade } from "./types.ts";

export const MARKET_DATA_TOPIC = "marketdata.v1";
export const EXECUTIONS_TOPIC = "executions.v1";

/** Receives what a durable batch changed. */
export interface MarketDataListener {
  onTrades(trades: Trade[]): void;
  onAggTrades(aggTrades: AggTrade[]): void;
  onDepth(diffs: DepthDiff[]): void;
  onKlines(klines: Kline[]): void;
}

export interface ProjectorOptions {
  eventLog: EventLog;
  store: MarketDataStore;
  markets: MarketRegistry;
  logger: Logger;
  metrics: GatewayMetrics;
  groupId?: string;
  maxBatchRecords?: number;
  now?: () => number;
}

type Verdict = "apply" | "duplicate" | "stale" | "gap";

/** The ADR 7 acceptance rule for one event against a stream cursor (mutates the cursor when applied). */
export function admit(cursor: StreamCursor, epoch: bigint, sequence: bigint): Verdict {
  if (epoch < cursor.epoch) return "stale";
  if (sequence <= cursor.sequence) return "duplicate";
  const verdict: Verdict = sequence === cursor.sequence + 1n || cursor.sequence === 0n ? "apply" : "gap";
  cursor.epoch = epoch;
  cursor.sequence = sequence;
  return verdict;
}

/**
 * The events of a batch's records, in order: a record holds many events (ADR 10), each admitted by
 * its own (shard, epoch, sequence). A record that does not decode is skipped whole.
 */
function eventsOf<E>(batch: Batch, decode: (value: Uint8Array) => E[], onMalformed: () => void): E[] {
  const events: E[] = [];
  for (const record of batch.records) {
    let decoded: E[];
    try {
      decoded = decode(record.value);
    } catch {
      onMalformed();
      continue;
    }
    for (const event of decoded) events.push(event);
  }
  return events;
}

export class MarketDataProjector {
  private readonly states = new Map<string, MarketState>();
  private readonly cursors = new Map<string, StreamCursor>();
  private readonly listeners: MarketDataListener[] = [];
  private subscription: Subscription | undefined;
  /** Batches are applied one at a time, whichever partition they come from. */
  private chain: Promise<void> = Promise.resolve();
  private readonly now: () => number;
  /** Records consumed so far, applied or dropped (progress, for tests and readiness). */
  consumed = 0;

  constructor(private readonly options: ProjectorOptions) {
    this.now = options.now ?? Date.now;
  }

  addListener(listener: MarketDataListener): void {
    this.listeners.push(listener);
  }

  state(symbol: string): MarketState | undefined {
    return this.states.get(symbol);
  }

  async start(): Promise<void> {
    const { eventLog, store } = this.options;
    await store.migrate();
    await this.reload();
    this.subscription = await eventLog.subscribe({
      topics: [MARKET_DATA_TOPIC, EXECUTIONS_TOPIC],
      groupId: this.options.groupId ?? "order-gateway.market-data",
      fromBeginning: true,
      maxBatchRecords: this.options.maxBatchRecords ?? 1_000,
      eachBatch: (batch) => this.serial(() => this.handle(batch)),
      onError: (error, batch) =>
        this.options.logger.error(
          { err: error, topic: batch.topic, partition: batch.partition },
          "market-data batch failed; it will be re-delivered",
        ),
    });
  }

  async stop(): Promise<void> {
    await this.subscription?.stop();
    this.subscription = undefined;
  }

  private serial(task: () => Promise<void>): Promise<void> {
    const run = this.chain.then(task);
    this.chain = run.catch(() => {});
    return run;
  }

  /** Rebuilds the in-memory state from PostgreSQL (at start, and after a failed batch write). */
  private async reload(): Promise<void> {
    const { store } = this.options;
    this.states.clear();
    for (const [shard, cursor] of await store.cursors(MARKET_DATA_TOPIC)) {
      this.cursors.set(`${MARKET_DATA_TOPIC}:${shard}`, cursor);
    }
    const saved = await store.loadState(this.now() - 25 * 3_600_000);
    for (const trade of saved.lastTrades) this.market(trade.symbol).lastTrade = trade;
    for (const [symbol, id] of saved.lastAggIds) this.market(symbol).nextAggId = id + 1;
    for (const kline of saved.latestKlines) this.market(kline.symbol).restoreKline(kline);
    for (const kline of saved.minuteKlines) this.market(kline.symbol).restoreMinute(kline);
  }

  private market(symbol: string): MarketState {
    let state = this.states.get(symbol);
    if (state === undefined) {
      state = new MarketState(symbol);
      this.states.set(symbol, state);
    }
    return state;
  }

  private cursor(topic: string, shard: number): StreamCursor {
    const key = `${topic}:${shard}`;
    let cursor = this.cursors.get(key);
    if (cursor === undefined) {
      cursor = { epoch: 0n, sequence: 0n };
      this.cursors.set(key, cursor);
    }
    return cursor;
  }

  private verdict(
    topic: string,
    shard: number,
    cursor: StreamCursor,
    epoch: bigint,
    sequence: bigint,
  ): boolean {
    const verdict = admit(cursor, epoch, sequence);
    this.options.metrics.projectorEvents.inc({ topic, verdict });
    if (verdict === "gap") {
      this.options.logger.warn(
        { topic, shard, sequence: sequence.toString() },
        "sequence gap in engine output",
      );
    }
    return verdict === "apply" || verdict === "gap";
  }

  private async handle(batch: Batch): Promise<void> {
    if (batch.topic === EXECUTIONS_TOPIC) return this.handleExecutions(batch);
    if (batch.topic !== MARKET_DATA_TOPIC) return;
    const shard = batch.partition;
    const live = this.cursor(MARKET_DATA_TOPIC, shard);
    const cursor = { ...live };
    const trades: Trade[] = [];
    const aggTrades: AggTrade[] = [];
    const diffs: DepthDiff[] = [];
    const touched = new Map<string, Kline>();
    const markets = new Set<MarketState>();
    const events = eventsOf(batch, decodeMarketDataRecord, () =>
      this.options.metrics.projectorEvents.inc({ topic: MARKET_DATA_TOPIC, verdict: "malformed" }),
    );
    for (const event of events) {
      const header = event.header;
      if (!header || !this.verdict(MARKET_DATA_TOPIC, shard, cursor, header.epoch, header.sequence)) continue;
      const time = Number(header.timeMs);
      const body = event.event;
      if (body?.$case === "trade") {
        const t = body.value;
        const state = this.market(event.symbol);
        markets.add(state);
        const trade: Trade = {
          symbol: event.symbol,
          id: Number(t.tradeId),
          price: t.price,
          qty: t.quantity,
          quoteQty: t.price * t.quantity,
          time,
          buyerIsMaker: t.buyerIsMaker,
        };
        const klines = state.applyTrade(trade);
        if (klines.length === 0) continue; // trade id already applied
        trades.push(trade);
        for (const k of klines) touched.set(`${k.symbol}|${k.interval}|${k.openTime}`, k);
        const closed = state.aggregate(trade, header.commandId);
        if (closed) aggTrades.push(closed);
      } else if (body?.$case === "depth") {
        const d = body.value;
        diffs.push({
          symbol: event.symbol,
          firstUpdateId: Number(d.firstUpdateId),
          lastUpdateId: Number(d.lastUpdateId),
          bids: d.bids.map((l) => [l.price, l.quantity]),
          asks: d.asks.map((l) => [l.price, l.quantity]),
          time,
        });
      }
    }
    for (const state of markets) {
      const closed = state.flushAgg();
      if (closed) aggTrades.push(closed);
    }
    if (cursor.sequence === live.sequence && cursor.epoch === live.epoch) {
      this.consumed += batch.records.length; // nothing new
      return;
    }
    const klines = [...touched.values()].map((k) => ({ ...k }));
    try {
      await this.options.store.write({ topic: MARKET_DATA_TOPIC, shard, cursor, trades, aggTrades, klines });
    } catch (error) {
      await this.reload().catch(() => {});
      throw error;
    }
    live.epoch = cursor.epoch;
    live.sequence = cursor.sequence;
    this.consumed += batch.records.length;
    for (const listener of this.listeners) {
      try {
        if (diffs.length > 0) listener.onDepth(diffs);
        if (trades.length > 0) listener.onTrades(trades);
        if (aggTrades.length > 0) listener.onAggTrades(aggTrades);
        if (klines.length > 0) listener.onKlines(klines);
      } catch (error) {
        this.options.logger.error({ err: error }, "market-data listener failed");
      }
    }
  }

  private async handleExecutions(batch: Batch): Promise<void> {
    const cursor = this.cursor(EXECUTIONS_TOPIC, batch.partition);
    for (const event of eventsOf(batch, decodeExecutionRecord, () => {})) {
      const header = event.header;
      if (
        !header ||
        !this.verdict(EXECUTIONS_TOPIC, batch.partition, cursor, header.epoch, header.sequence)
      ) {
        continue;
      }
      if (event.event?.$case === "marketChanged" && event.event.value.spec) {
        this.options.markets.upsert(event.event.value.spec);
      }
    }
    this.consumed += batch.records.length;
  }
}
