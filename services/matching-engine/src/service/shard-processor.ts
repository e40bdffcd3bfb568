/**
 * One shard's deterministic state machine: orders.v1 records in, executions.v1 and
 * marketdata.v1 events out. No I/O and no clock: the same input log gives byte-identical output,
 * which is what makes snapshots, replay, fail-over and audit work.
 *
 * Every output event carries {shard, sequence, epoch}. Each output topic has its own contiguous
 * sequence per shard, so a consumer can tell a duplicate (sequence already seen) from a gap.
 */
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import type { MarketSpec as DomainMarketSpec, MarketStatus } from "@excraft/domain";
import {
  type EventHeader,
  ExecutionEvent,
  MarketDataEvent,
  OrderCommand,
  type OrderState,
  type PriceLevel,
} from "@excraft/proto";
import type { CancelReason, DepthBuffer, ExpireReason, OrderView, RejectReason } from "../book/types.ts";
import { type BookKind, Engine, type EngineSink, type EngineSnapshot } from "../engine.ts";
import {
  FieldRangeError,
  filtersFromProto,
  orderStateFromView,
  safeNumber,
  specFromProto,
  specToProto,
} from "./proto-mapping.ts";
import { RecentIds } from "./recent-ids.ts";

/** One encoded output event, ready for the event log. */
export interface OutputEvent {
  key: string;
  value: Uint8Array;
}

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
}

const EMPTY_STATE: OrderState = {
  orderId: 0n,
  accountId: "",
  clientOrderId: "",
  side: 0,
  type: 0,
  timeInForce: 0,
  price: 0n,
  quantity: 0n,
  filledQuantity: 0n,
  filledQuote: 0n,
  status: 0,
  stopPrice: 0n,
  selfTradePrevention: 0,
  quoteOrderQty: 0n,
  createdTimeMs: 0n,
};

export class ShardProcessor implements EngineSink {
  readonly shard: number;
  readonly engine: Engine;
  private epoch: bigint;
  private nextInputOffset = 0n;
  private executionSequence = 0n;
  private marketDataSequence = 0n;
  private readonly recentCommands: RecentIds;
  /** One writer for every event: its buffer keeps its size, so encoding does not regrow it each time. */
  private readonly writer = new BinaryWriter();
  private executions: OutputEvent[] = [];
  private marketData: OutputEvent[] = [];
  // Context of the command being applied, for event headers.
  private commandId = "";
  private commandSymbol = "";
  private commandAccount = "";
  private commandTimeMs = 0n;
  private commandOffset = 0n;
  /** Last depth update id per market id (Binance `lastUpdateId`), for book snapshots. */
  private readonly lastUpdateIds: number[] = [];
  /** Commands skipped because their id was seen within the dedupe window. */
  duplicatesDropped = 0;
  /** Records that were not a decodable OrderCommand. */
  malformedCommands = 0;

  constructor(options: ShardProcessorOptions, state?: ShardState) {
    this.shard = options.shard;
    this.epoch = options.epoch;
    this.recentCommands = new RecentIds(options.dedupeWindow ?? 100_000);
    if (state === undefined) {
      this.engine = new Engine(this, options.bookKind ?? "fast");
      return;
    }
    if (state.shard !== options.shard)
      throw new Error(`snapshot of shard ${state.shard} loaded into ${options.shard}`);
    this.engine = Engine.restore(state.engine, this, options.bookKind ?? "fast");
    this.nextInputOffset = BigInt(state.nextInputOffset);
    this.executionSequence = BigInt(state.executionSequence);
    this.marketDataSequence = BigInt(state.marketDataSequence);
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
    return { executions: this.executionSequence, marketData: this.marketDataSequence };
  }

  /** A new leader continues from a snapshot with a higher epoch. */
  setEpoch(epoch: bigint): void {
    if (epoch < this.epoch) throw new Error(`epoch may only grow (${this.epoch} → ${epoch})`);
    this.epoch = epoch;
  }

  /** Applies one orders.v1 record. Records before the expected offset (replays) are ignored. */
  apply(offset: bigint, payload: Uint8Array): void {
    if (offset < this.nextInputOffset) return;
    this.nextInputOffset = offset + 1n;
    let command: OrderCommand;
    try {
      command = OrderCommand.decode(payload);
    } catch {
      this.malformedCommands++;
      this.beginCommand(offset, "", "", 0n, "");
      this.rejectCommand("MALFORMED_COMMAND", "payload is not an excraft.v1.OrderCommand");
      return;
    }
    if (command.commandId !== "" && this.recentCommands.has(command.commandId)) {
      this.duplicatesDropped++;
      return;
    }
    if (command.commandId !== "") this.recentCommands.add(command.commandId);
    this.beginCommand(offset, command.commandId, command.symbol, command.timeMs, accountOf(command));
    try {
      this.dispatch(command);
    } catch (error) {
      if (!(error instanceof FieldRangeError)) throw error;
      this.rejectCommand("INVALID_COMMAND", error.message);
    }
  }

  /** Takes the events produced since the last call. */
  drain(): { executions: OutputEvent[]; marketData: OutputEvent[] } {
    const out = { executions: this.executions, marketData: this.marketData };
    this.executions = [];
    this.marketData = [];
    return out;
  }

  state(): ShardState {
    return {
      version: 1,
      shard: this.shard,
      nextInputOffset: this.nextInputOffset.toString(),
      executionSequence: this.executionSequence.toString(),
      marketDataSequence: this.marketDataSequence.toString(),
      recentCommandIds: this.recentCommands.list(),
      engine: this.engine.snapshot(),
    };
  }

  private beginCommand(offset: bigint, id: string, symbol: string, timeMs: bigint, account: string): void {
    this.commandOffset = offset;
    this.commandId = id;
    this.commandSymbol = symbol;
    this.commandTimeMs = timeMs;
    this.commandAccount = account;
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
    this.execution(market, { $case: "accepted", value: { order: this.state_(order) } });
  }

  rejected(market: number, order: OrderView, reason: RejectReason): void {
    this.execution(market, {
      $case: "rejected",
      value: { order: this.state_(order), reason, message: rejectMessage(reason) },
    });
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
    const buyer = buyerIsMaker ? maker : taker;
    const seller = buyerIsMaker ? taker : maker;
    this.execution(market, {
      $case: "trade",
      value: {
        tradeId: BigInt(tradeId),
        price: BigInt(price),
        quantity: BigInt(quantity),
        buyerIsMaker,
        maker: this.state_(maker),
        taker: this.state_(taker),
      },
    });
    this.marketDataEvent(market, {
      $case: "trade",
      value: {
        tradeId: BigInt(tradeId),
        price: BigInt(price),
        quantity: BigInt(quantity),
        buyerIsMaker,
        buyerOrderId: BigInt(buyer.orderId),
        sellerOrderId: BigInt(seller.orderId),
      },
    });
  }

  cancelled(market: number, order: OrderView, reason: CancelReason): void {
    this.execution(market, { $case: "cancelled", value: { order: this.state_(order), reason } });
  }

  expired(market: number, order: OrderView, reason: ExpireReason): void {
    this.execution(market, { $case: "expired", value: { order: this.state_(order), reason } });
  }

  replaced(market: number, oldOrder: OrderView, newOrder: OrderView, keptPriority: boolean): void {
    // Both views are flyweights of the book: copy the first before the second is read.
    const old = this.state_(oldOrder);
    this.execution(market, {
      $case: "replaced",
      value: { oldOrder: old, newOrder: this.state_(newOrder), keptPriority },
    });
  }

  triggered(market: number, order: OrderView, triggerPrice: number): void {
    this.execution(market, {
      $case: "triggered",
      value: { order: this.state_(order), triggerPrice: BigInt(triggerPrice) },
    });
  }

  depth(
    market: number,
    firstUpdateId: number,
    lastUpdateId: number,
    bids: DepthBuffer,
    asks: DepthBuffer,
  ): void {
    this.lastUpdateIds[market] = lastUpdateId;
    this.marketDataEvent(market, {
      $case: "depth",
      value: {
        firstUpdateId: BigInt(firstUpdateId),
        lastUpdateId: BigInt(lastUpdateId),
        bids: levels(bids),
        asks: levels(asks),
      },
    });
  }

  marketChanged(market: number, spec: Readonly<DomainMarketSpec>): void {
    this.execution(market, { $case: "marketChanged", value: { spec: specToProto(spec, this.shard) } });
  }

  adminRejected(symbol: string, code: string, message: string): void {
    this.commandSymbol = symbol;
    this.rejectCommand(code, message);
  }

  // ------------------------------------------------------------ encoding

  private state_(view: OrderView): OrderState {
    const state = orderStateFromView(view, this.engine.accounts);
    if (state.accountId === "") state.accountId = this.commandAccount;
    return state;
  }

  private rejectCommand(reason: string, message: string): void {
    this.execution(-1, {
      $case: "rejected",
      value: { order: { ...EMPTY_STATE, accountId: this.commandAccount }, reason, message },
    });
  }

  private header(sequence: bigint): EventHeader {
    return {
      shard: this.shard,
      sequence,
      epoch: this.epoch,
      timeMs: this.commandTimeMs,
      commandId: this.commandId,
      inputOffset: this.commandOffset,
    };
  }

  private symbolOf(market: number): string {
    return market >= 0 ? this.engine.markets()[market]!.spec.symbol : this.commandSymbol;
  }

  private execution(market: number, event: ExecutionEvent["event"]): void {
    const symbol = this.symbolOf(market);
    this.executionSequence++;
    const value = ExecutionEvent.encode(
      { header: this.header(this.executionSequence), symbol, event },
      this.writer,
    ).finish();
    this.executions.push({ key: symbol, value });
  }

  private marketDataEvent(market: number, event: MarketDataEvent["event"]): void {
    const symbol = this.symbolOf(market);
    this.marketDataSequence++;
    const value = MarketDataEvent.encode(
      { header: this.header(this.marketDataSequence), symbol, event },
      this.writer,
    ).finish();
    this.marketData.push({ key: symbol, value });
  }
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

function levels(buffer: DepthBuffer): PriceLevel[] {
  const out: PriceLevel[] = new Array(buffer.count);
  for (let i = 0; i < buffer.count; i++) {
    out[i] = { price: BigInt(buffer.prices[i]!), quantity: BigInt(buffer.quantities[i]!) };
  }
  return out;
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
