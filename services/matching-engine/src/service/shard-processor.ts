/**
 * One shard's deterministic state machine: orders.v1 records in, executions.v1 and
 * marketdata.v1 events out. No I/O and no clock: the same input log gives byte-identical output,
 * which is what makes snapshots, replay, fail-over and audit work.
 *
 * Every output event carries {shard, sequence, epoch}. Each output topic has its own contiguous
 * sequence per shard, so a consumer can tell a duplicate (sequence already seen) from a gap.
 * Events leave in records of many events each (ADR 10): `drain()` closes the records of what was
 * applied since the last call. Where records are cut depends on when `drain()` is called; the
 * events themselves, in order and byte for byte, depend only on the input log.
 *
 * Events are written straight from the book's order views into the records' bytes (ProtoWriter):
 * no message objects, no bigints on the hot path. The bytes are the canonical protobuf encoding
 * of ExecutionEvent / MarketDataEvent, which the tests hold against the generated codecs.
 */
import type { MarketSpec as DomainMarketSpec, MarketStatus } from "@excraft/domain";
import { MarketChanged, OrderCommand } from "@excraft/proto";
import { EVENT_BATCH_TAG } from "@excraft/proto/records";
import type {
  CancelCommand,
  CancelReason,
  DepthBuffer,
  ExpireReason,
  OrderView,
  PlaceCommand,
  RejectReason,
  ReplaceCommand,
} from "../book/types.ts";
import { type BookKind, Engine, type EngineSink, type EngineSnapshot } from "../engine.ts";
import { FAST_CANCEL, FAST_PLACE, FastCommand } from "./command-decoder.ts";
import {
  FieldRangeError,
  filtersFromProto,
  safeNumber,
  specFromProto,
  specToProto,
} from "./proto-mapping.ts";
import { ProtoWriter, utf8Bytes } from "./proto-writer.ts";
import { RecentIds } from "./recent-ids.ts";

/** One encoded output record (ADR 10): an ExecutionEventBatch or MarketDataEventBatch. */
export interface OutputRecord {
  value: Uint8Array;
  /** Number of events in the record. */
  events: number;
}

/**
 * Default soft limit of one output record's size: several hundred events, so the per-record cost of the
 * Kafka client is amortised many times over, while consumers whose batches are bounded by a record
 * count (the embedded event log) still get batches of a sensible size.
 */
export const DEFAULT_MAX_RECORD_BYTES = 64 * 1024;

/** Everything needed to resume the shard exactly where it was. */
export interface ShardState {
  version: 1;
  shard: number;
  /** Offset in orders.v1 of the next command to process. */
  nextInputOffset: string;
  /** Last sequence used on executions.v1 and marketdata.v1. */
  executionSequence: string;
  marketDataSequence: string;
  recentCommandIds: string[];
  engine: EngineSnapshot;
}

export interface ShardProcessorOptions {
  shard: number;
  epoch: bigint;
  bookKind?: BookKind;
  /** How many recent command ids are remembered to drop re-delivered commands. */
  dedupeWindow?: number;
  /** A record is closed once it holds this many bytes (the event that crosses it is its last). */
  maxRecordBytes?: number;
}

/** Tags (field number << 3 | wire type) of the output messages (excraft/v1 executions, marketdata, common). */
const T = {
  // ExecutionEvent and MarketDataEvent
  header: 0x0a,
  symbol: 0x12,
  // ExecutionEvent.event
  accepted: 82,
  rejected: 90,
  trade: 98,
  cancelled: 106,
  expired: 114,
  replaced: 122,
  triggered: 130,
  marketChanged: 138,
  // MarketDataEvent.event
  depth: 82,
  publicTrade: 90,
  // EventHeader
  shard: 0x08,
  sequence: 0x10,
  epoch: 0x18,
  timeMs: 0x20,
  commandId: 0x2a,
  inputOffset: 0x30,
} as const;

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

export class ShardProcessor implements EngineSink {
  readonly shard: number;
  readonly engine: Engine;
  private epoch: bigint;
  private epochNumber: number;
  private nextInputOffset = 0n;
  private executionSequence = 0;
  private marketDataSequence = 0;
  private readonly recentCommands: RecentIds;
  private readonly executions: RecordBuilder;
  private readonly marketData: RecordBuilder;
  // Context of the command being applied, for event headers.
  private commandId = "";
  private commandSymbol = "";
  private commandAccount = "";
  private commandTimeMs = 0n;
  /** commandTimeMs as a number when it is in 0..2^53-1 (the usual case), else -1. */
  private commandTime = 0;
  private commandOffset = 0;
  /**
   * The command's part of every event header (epoch, time, command id, input offset), encoded once
   * per command; undefined until an event of the command needs it.
   */
  private headerTail: Uint8Array | undefined;
  private readonly tailWriter = new ProtoWriter(256);
  /** UTF-8 of each market's symbol and each account's id, by index: written into most events. */
  private readonly symbolBytes: Uint8Array[] = [];
  private readonly accountBytes: Uint8Array[] = [];
  /** The fast path's decoder and the engine commands it fills (reused: the engine copies them). */
  private readonly fast = new FastCommand();
  private readonly placeCommand: PlaceCommand = {
    orderId: 0,
    account: 0,
    clientOrderId: "",
    side: 1,
    type: 1,
    timeInForce: 1,
    price: 0,
    quantity: 0,
    quoteOrderQty: 0,
    stopPrice: 0,
    stp: 0,
    reserved: 0,
  };
  private readonly cancelCommand: CancelCommand = { account: 0, orderId: 0, clientOrderId: "" };
  private readonly replaceCommand: ReplaceCommand = {
    account: 0,
    orderId: 0,
    clientOrderId: "",
    newOrderId: 0,
    newClientOrderId: "",
    newPrice: 0,
    newQuantity: 0,
  };
  /** Last depth update id per market id (Binance `lastUpdateId`), for book snapshots. */
  private readonly lastUpdateIds: number[] = [];
  /** Commands skipped because their id was seen within the dedupe window. */
  duplicatesDropped = 0;
  /** Records that were not a decodable OrderCommand. */
  malformedCommands = 0;

  constructor(options: ShardProcessorOptions, state?: ShardState) {
    this.shard = options.shard;
    this.epoch = options.epoch;
    this.epochNumber = epochNumber(options.epoch);
    this.recentCommands = new RecentIds(options.dedupeWindow ?? 100_000);
    this.executions = new RecordBuilder(options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES);
    this.marketData = new RecordBuilder(options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES);
    if (state === undefined) {
      this.engine = new Engine(this, options.bookKind ?? "fast");
      return;
    }
    if (state.shard !== options.shard)
      throw new Error(`snapshot of shard ${state.shard} loaded into ${options.shard}`);
    this.engine = Engine.restore(state.engine, this, options.bookKind ?? "fast");
    this.nextInputOffset = BigInt(state.nextInputOffset);
    this.executionSequence = safeCounter(state.executionSequence, "executionSequence");
    this.marketDataSequence = safeCounter(state.marketDataSequence, "marketDataSequence");
    for (const id of state.recentCommandIds) this.recentCommands.add(id);
    for (const book of state.engine.books) this.lastUpdateIds[book.marketId] = book.lastUpdateId;
  }

  /** The last depth update id of a market (0 before its first change). */
  lastUpdateId(market: number): number {
    return this.lastUpdateIds[market] ?? 0;
  }

  /** Offset of the next orders.v1 record this shard expects. */
  get inputOffset(): bigint {
    return this.nextInputOffset;
  }

  get sequences(): { executions: bigint; marketData: bigint } {
    return { executions: BigInt(this.executionSequence), marketData: BigInt(this.marketDataSequence) };
  }

  /** A new leader continues from a snapshot with a higher epoch. */
  setEpoch(epoch: bigint): void {
    if (epoch < this.epoch) throw new Error(`epoch may only grow (${this.epoch} → ${epoch})`);
    this.epochNumber = epochNumber(epoch);
    this.epoch = epoch;
    this.headerTail = undefined;
  }

  /** Applies one orders.v1 record. Records before the expected offset (replays) are ignored. */
  apply(offset: bigint, payload: Uint8Array): void {
    if (offset < this.nextInputOffset) return;
    this.nextInputOffset = offset + 1n;
    if (this.fast.decode(payload)) {
      this.applyFast(offset, this.fast);
      return;
    }
    let command: OrderCommand;
    try {
      command = OrderCommand.decode(payload);
    } catch {
      this.malformedCommands++;
      this.beginCommand(offset, "", "", 0n, "");
      this.rejectCommand("MALFORMED_COMMAND", "payload is not an excraft.v1.OrderCommand");
      return;
    }
    if (command.commandId !== "" && !this.recentCommands.addNew(command.commandId)) {
      this.duplicatesDropped++;
      return;
    }
    this.beginCommand(offset, command.commandId, command.symbol, command.timeMs, accountOf(command));
    try {
      this.dispatch(command);
    } catch (error) {
      if (!(error instanceof FieldRangeError)) throw error;
      this.rejectCommand("INVALID_COMMAND", error.message);
    }
  }

  /**
   * A place, cancel or replace whose integers are all in the safe range (FastCommand): the same
   * steps as `apply` + `dispatch`, without the message objects.
   */
  private applyFast(offset: bigint, c: FastCommand): void {
    if (c.commandId !== "" && !this.recentCommands.addNew(c.commandId)) {
      this.duplicatesDropped++;
      return;
    }
    this.commandOffset = Number(offset);
    this.commandId = c.commandId;
    this.commandSymbol = c.symbol;
    this.commandTime = c.timeMs;
    this.commandAccount = c.accountId;
    this.headerTail = undefined;
    const engine = this.engine;
    switch (c.kind) {
      case FAST_PLACE: {
        const p = this.placeCommand;
        p.orderId = c.orderId;
        p.account = engine.accounts.intern(c.accountId);
        p.clientOrderId = c.clientOrderId;
        p.side = c.side as PlaceCommand["side"];
        p.type = c.type as PlaceCommand["type"];
        p.timeInForce = c.timeInForce as PlaceCommand["timeInForce"];
        p.price = c.price;
        p.quantity = c.quantity;
        p.quoteOrderQty = c.quoteOrderQty;
        p.stopPrice = c.stopPrice;
        p.stp = c.selfTradePrevention as PlaceCommand["stp"];
        p.reserved = c.reserved;
        engine.place(c.symbol, p, c.timeMs);
        return;
      }
      case FAST_CANCEL: {
        const k = this.cancelCommand;
        k.account = engine.accounts.lookup(c.accountId);
        k.orderId = c.orderId;
        k.clientOrderId = c.clientOrderId;
        engine.cancel(c.symbol, k, c.timeMs);
        return;
      }
      default: {
        const r = this.replaceCommand;
        r.account = engine.accounts.lookup(c.accountId);
        r.orderId = c.orderId;
        r.clientOrderId = c.clientOrderId;
        r.newOrderId = c.newOrderId;
        r.newClientOrderId = c.newClientOrderId;
        r.newPrice = c.newPrice;
        r.newQuantity = c.newQuantity;
        engine.replace(c.symbol, r, c.timeMs);
      }
    }
  }

  /** Takes the records of the events produced since the last call (closing the open ones). */
  drain(): { executions: OutputRecord[]; marketData: OutputRecord[] } {
    return { executions: this.executions.drain(), marketData: this.marketData.drain() };
  }

  state(): ShardState {
    return {
      version: 1,
      shard: this.shard,
      nextInputOffset: this.nextInputOffset.toString(),
      executionSequence: String(this.executionSequence),
      marketDataSequence: String(this.marketDataSequence),
      recentCommandIds: this.recentCommands.list(),
      engine: this.engine.snapshot(),
    };
  }

  /** The general path's command context (any int64 time, including out-of-range ones). */
  private beginCommand(offset: bigint, id: string, symbol: string, timeMs: bigint, account: string): void {
    this.commandOffset = Number(offset);
    this.commandId = id;
    this.commandSymbol = symbol;
    this.commandTimeMs = timeMs;
    this.commandTime = timeMs >= 0n && timeMs <= BigInt(MAX_SAFE) ? Number(timeMs) : -1;
    this.commandAccount = account;
    this.headerTail = undefined;
  }

  private dispatch(command: OrderCommand): void {
    const timeMs = safeNumber(command.timeMs, "timeMs");
    const { symbol } = command;
    const body = command.command;
    switch (body?.$case) {
      case "place": {
        const p = body.value;
        this.engine.place(
          symbol,
          {
            orderId: safeNumber(p.orderId, "orderId"),
            account: this.engine.accounts.intern(p.accountId),
            clientOrderId: p.clientOrderId,
            side: p.side as never,
            type: p.type as never,
            timeInForce: p.timeInForce as never,
            price: safeNumber(p.price, "price"),
            quantity: safeNumber(p.quantity, "quantity"),
            quoteOrderQty: safeNumber(p.quoteOrderQty, "quoteOrderQty"),
            stopPrice: safeNumber(p.stopPrice, "stopPrice"),
            stp: p.selfTradePrevention as never,
            reserved: safeNumber(p.reserved, "reserved"),
          },
          timeMs,
        );
        return;
      }
      case "cancel": {
        const c = body.value;
        this.engine.cancel(
          symbol,
          {
            account: this.engine.accounts.lookup(c.accountId),
            orderId: safeNumber(c.orderId, "orderId"),
            clientOrderId: c.clientOrderId,
          },
          timeMs,
        );
        return;
      }
      case "replace": {
        const r = body.value;
        this.engine.replace(
          symbol,
          {
            account: this.engine.accounts.lookup(r.accountId),
            orderId: safeNumber(r.orderId, "orderId"),
            clientOrderId: r.clientOrderId,
            newOrderId: safeNumber(r.newOrderId, "newOrderId"),
            newClientOrderId: r.newClientOrderId,
            newPrice: safeNumber(r.newPrice, "newPrice"),
            newQuantity: safeNumber(r.newQuantity, "newQuantity"),
          },
          timeMs,
        );
        return;
      }
      case "massCancel": {
        const account = this.engine.accounts.lookup(body.value.accountId);
        if (account >= 0) this.engine.massCancel(account, timeMs, symbol);
        return;
      }
      case "addMarket": {
        if (body.value.spec === undefined) this.rejectCommand("INVALID_MARKET_SPEC", "spec is required");
        else this.engine.addMarket(specFromProto(body.value.spec));
        return;
      }
      case "setMarketStatus":
        this.engine.setMarketStatus(symbol, body.value.status as MarketStatus, timeMs);
        return;
      case "updateFilters": {
        if (body.value.spec === undefined) this.rejectCommand("INVALID_FILTERS", "spec is required");
        else this.engine.updateFilters(symbol, filtersFromProto(body.value.spec));
        return;
      }
      default:
        this.rejectCommand("INVALID_COMMAND", "command has no body");
    }
  }

  // ------------------------------------------------------------ EngineSink (book output)

  accepted(market: number, order: OrderView): void {
    const w = this.beginExecution(market);
    const m = w.fork(T.accepted);
    this.orderState(w, 0x0a, order);
    w.join(m);
    this.executions.end();
  }

  rejected(market: number, order: OrderView, reason: RejectReason): void {
    const w = this.beginExecution(market);
    const m = w.fork(T.rejected);
    this.orderState(w, 0x0a, order);
    w.string(0x12, reason);
    w.string(0x1a, rejectMessage(reason));
    w.join(m);
    this.executions.end();
  }

  trade(
    market: number,
    tradeId: number,
    price: number,
    quantity: number,
    buyerIsMaker: boolean,
    maker: OrderView,
    taker: OrderView,
  ): void {
    let w = this.beginExecution(market);
    let m = w.fork(T.trade);
    w.uint(0x08, tradeId);
    w.uint(0x10, price);
    w.uint(0x18, quantity);
    w.bool(0x20, buyerIsMaker);
    this.orderState(w, 0x2a, maker);
    this.orderState(w, 0x32, taker);
    w.join(m);
    this.executions.end();

    w = this.beginMarketData(market);
    m = w.fork(T.publicTrade);
    w.uint(0x08, tradeId);
    w.uint(0x10, price);
    w.uint(0x18, quantity);
    w.bool(0x20, buyerIsMaker);
    w.uint(0x28, buyerIsMaker ? maker.orderId : taker.orderId);
    w.uint(0x30, buyerIsMaker ? taker.orderId : maker.orderId);
    w.join(m);
    this.marketData.end();
  }

  cancelled(market: number, order: OrderView, reason: CancelReason): void {
    const w = this.beginExecution(market);
    const m = w.fork(T.cancelled);
    this.orderState(w, 0x0a, order);
    w.string(0x12, reason);
    w.join(m);
    this.executions.end();
  }

  expired(market: number, order: OrderView, reason: ExpireReason): void {
    const w = this.beginExecution(market);
    const m = w.fork(T.expired);
    this.orderState(w, 0x0a, order);
    w.string(0x12, reason);
    w.join(m);
    this.executions.end();
  }

  replaced(market: number, oldOrder: OrderView, newOrder: OrderView, keptPriority: boolean): void {
    // Both views are flyweights of the book; they are encoded one after the other, in field order.
    const w = this.beginExecution(market);
    const m = w.fork(T.replaced);
    this.orderState(w, 0x0a, oldOrder);
    this.orderState(w, 0x12, newOrder);
    w.bool(0x18, keptPriority);
    w.join(m);
    this.executions.end();
  }

  triggered(market: number, order: OrderView, triggerPrice: number): void {
    const w = this.beginExecution(market);
    const m = w.fork(T.triggered);
    this.orderState(w, 0x0a, order);
    w.uint(0x10, triggerPrice);
    w.join(m);
    this.executions.end();
  }

  depth(
    market: number,
    firstUpdateId: number,
    lastUpdateId: number,
    bids: DepthBuffer,
    asks: DepthBuffer,
  ): void {
    this.lastUpdateIds[market] = lastUpdateId;
    const w = this.beginMarketData(market);
    const m = w.fork(T.depth);
    w.uint(0x08, firstUpdateId);
    w.uint(0x10, lastUpdateId);
    levels(w, 0x1a, bids);
    levels(w, 0x22, asks);
    w.join(m);
    this.marketData.end();
  }

  marketChanged(market: number, spec: Readonly<DomainMarketSpec>): void {
    // Rare (admin commands): the generated codec writes the MarketChanged body.
    const body = MarketChanged.encode({ spec: specToProto(spec, this.shard) }).finish();
    const w = this.beginExecution(market);
    const m = w.fork(T.marketChanged);
    w.raw(body);
    w.join(m);
    this.executions.end();
  }

  adminRejected(symbol: string, code: string, message: string): void {
    this.commandSymbol = symbol;
    this.rejectCommand(code, message);
  }

  // ------------------------------------------------------------ encoding

  /** A rejected command without an order: the order state carries only the command's account. */
  private rejectCommand(reason: string, message: string): void {
    const w = this.beginExecution(-1);
    const m = w.fork(T.rejected);
    const order = w.fork(0x0a);
    w.string(0x12, this.commandAccount);
    w.join(order);
    w.string(0x12, reason);
    w.string(0x1a, message);
    w.join(m);
    this.executions.end();
  }

  /** Starts an ExecutionEvent: the next sequence, the header and the symbol. */
  private beginExecution(market: number): ProtoWriter {
    const w = this.executions.begin();
    this.header(w, ++this.executionSequence);
    this.symbol(w, market);
    return w;
  }

  private beginMarketData(market: number): ProtoWriter {
    const w = this.marketData.begin();
    this.header(w, ++this.marketDataSequence);
    this.symbol(w, market);
    return w;
  }

  private header(w: ProtoWriter, sequence: number): void {
    const m = w.fork(T.header);
    w.uint(T.shard, this.shard);
    w.uint(T.sequence, sequence);
    w.copy(this.headerTail ?? this.encodeHeaderTail());
    w.join(m);
  }

  /** EventHeader fields 3..6, the same for every event of the command being applied. */
  private encodeHeaderTail(): Uint8Array {
    const w = this.tailWriter;
    w.uint(T.epoch, this.epochNumber);
    if (this.commandTime >= 0) w.uint(T.timeMs, this.commandTime);
    else w.int64(T.timeMs, this.commandTimeMs);
    w.string(T.commandId, this.commandId);
    w.uint(T.inputOffset, this.commandOffset);
    this.headerTail = w.finish();
    return this.headerTail;
  }

  /** An OrderState field from a flyweight order view (valid only during the sink callback). */
  private orderState(w: ProtoWriter, tag: number, view: OrderView): void {
    const m = w.fork(tag);
    w.uint(0x08, view.orderId);
    const account = view.account;
    if (account >= 0) {
      const bytes = this.accountBytes[account] ?? this.cacheAccount(account);
      if (bytes.length > 0) w.bytesField(0x12, bytes);
      else w.string(0x12, this.commandAccount);
    } else {
      w.string(0x12, this.commandAccount);
    }
    w.string(0x1a, view.clientOrderId);
    w.uint(0x20, view.side);
    w.uint(0x28, view.type);
    w.uint(0x30, view.timeInForce);
    w.uint(0x38, view.price);
    w.uint(0x40, view.quantity);
    const filled = view.filledQuantity;
    w.uint(0x48, filled);
    // Σ price × quantity over fills: 0 without a fill (and then not worth a bigint).
    if (filled !== 0) w.int64(0x50, view.filledQuote());
    w.uint(0x58, view.status);
    w.uint(0x60, view.stopPrice);
    w.uint(0x68, view.stp);
    w.uint(0x70, view.quoteOrderQty);
    w.uint(0x78, view.createdTimeMs);
    w.join(m);
  }

  private symbol(w: ProtoWriter, market: number): void {
    if (market < 0) {
      w.string(T.symbol, this.commandSymbol);
      return;
    }
    let bytes = this.symbolBytes[market];
    if (bytes === undefined) {
      bytes = utf8Bytes(this.engine.markets()[market]!.spec.symbol);
      this.symbolBytes[market] = bytes;
    }
    w.bytesField(T.symbol, bytes);
  }

  private cacheAccount(account: number): Uint8Array {
    const bytes = utf8Bytes(this.engine.accounts.name(account));
    this.accountBytes[account] = bytes;
    return bytes;
  }
}

/**
 * One topic's output: events framed as the `events` field (9) of an event batch, record after
 * record. The bytes equal ExecutionEventBatch.encode / MarketDataEventBatch.encode of the events.
 */
class RecordBuilder {
  private readonly writer = new ProtoWriter();
  private events = 0;
  /** Where the event being written starts, or -1 between events. */
  private start = -1;
  private mark = 0;
  private closed: OutputRecord[] = [];

  constructor(private readonly maxBytes: number) {}

  begin(): ProtoWriter {
    // An event left unfinished by an exception is dropped, never half-written into a record.
    if (this.start >= 0) this.writer.pos = this.start;
    this.start = this.writer.pos;
    this.mark = this.writer.fork(EVENT_BATCH_TAG);
    return this.writer;
  }

  end(): void {
    this.writer.join(this.mark);
    this.start = -1;
    this.events++;
    if (this.writer.pos >= this.maxBytes) this.close();
  }

  drain(): OutputRecord[] {
    this.close();
    const out = this.closed;
    this.closed = [];
    return out;
  }

  private close(): void {
    if (this.start >= 0) {
      this.writer.pos = this.start;
      this.start = -1;
    }
    if (this.events === 0) return;
    this.closed.push({ value: this.writer.finish(), events: this.events });
    this.events = 0;
  }
}

/** The repeated PriceLevel field `tag` of a depth delta (a quantity of 0 removes the level). */
function levels(w: ProtoWriter, tag: number, buffer: DepthBuffer): void {
  const { prices, quantities } = buffer;
  for (let i = 0; i < buffer.count; i++) {
    const m = w.fork(tag);
    w.uint(0x08, prices[i]!);
    w.uint(0x10, quantities[i]!);
    w.join(m);
  }
}

function epochNumber(epoch: bigint): number {
  if (epoch < 0n || epoch > BigInt(MAX_SAFE)) throw new RangeError(`epoch ${epoch} is out of range`);
  return Number(epoch);
}

function safeCounter(value: string, name: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`snapshot ${name} ${value} is out of range`);
  return n;
}

function accountOf(command: OrderCommand): string {
  const body = command.command;
  switch (body?.$case) {
    case "place":
    case "cancel":
    case "replace":
    case "massCancel":
      return body.value.accountId;
    default:
      return "";
  }
}

const REJECT_MESSAGES: Record<string, string> = {
  MARKET_HALTED: "Market is halted.",
  MARKET_CLOSED: "Market is closed.",
  UNKNOWN_SYMBOL: "Invalid symbol.",
  UNKNOWN_ORDER: "Unknown order sent.",
  DUPLICATE_CLIENT_ORDER_ID: "Duplicate order sent.",
  DUPLICATE_ORDER_ID: "Duplicate order sent.",
  WOULD_TAKE: "Order would immediately match and take.",
  WOULD_TRIGGER_IMMEDIATELY: "Order would trigger immediately.",
  PRICE_FILTER: "Filter failure: PRICE_FILTER",
  LOT_SIZE: "Filter failure: LOT_SIZE",
  MIN_NOTIONAL: "Filter failure: NOTIONAL",
};

function rejectMessage(reason: string): string {
  return REJECT_MESSAGES[reason] ?? reason;
}
