/**
 * The order book contract shared by the fast book (fast-book.ts) and the reference book
 * (reference/reference-book.ts). Everything is an integer: prices in price units (multiples of the
 * tick size), quantities in quantity units (multiples of the step size), times in ms taken from
 * the command. Accounts are small integers (the Engine interns account-id strings).
 */
import type {
  MarketFilters,
  MarketSpec,
  MarketStatus,
  OrderStatus,
  OrderType,
  Side,
  Stp,
  TimeInForce,
} from "@excraft/domain";

export interface PlaceCommand {
  orderId: number;
  account: number;
  clientOrderId: string; // "" = none (not indexed)
  side: Side;
  type: OrderType;
  timeInForce: TimeInForce;
  price: number; // 0 for MARKET / STOP_LOSS / TAKE_PROFIT
  quantity: number; // 0 when quoteOrderQty is used
  quoteOrderQty: number; // MARKET only
  stopPrice: number; // stop / take-profit types only
  stp: Stp; // 0 = the market's default
  reserved: number; // MARKET (and STOP market) BUY by quantity: quote budget bound, 0 = unbounded
}

/** Cancel by orderId (≠ 0) or else by clientOrderId. */
export interface CancelCommand {
  account: number;
  orderId: number;
  clientOrderId: string;
}

/**
 * Cancel-replace of a resting limit order. newPrice 0 = keep the price; newQuantity 0 = keep the open
 * quantity; newOrderId 0 / newClientOrderId "" = keep. The replacement is a new order whose
 * quantity is newQuantity (its open quantity) and filled quantity 0. Same price and
 * newQuantity ≤ open quantity keeps time priority; anything else re-enters as a taker.
 */
export interface ReplaceCommand {
  account: number;
  orderId: number;
  clientOrderId: string;
  newOrderId: number;
  newClientOrderId: string;
  newPrice: number;
  newQuantity: number;
}

/**
 * A read-only view of one order's state at the moment of an event. Views are flyweights owned
 * by the book and valid only during the callback: copy what you keep.
 */
export interface OrderView {
  readonly orderId: number;
  readonly account: number;
  readonly clientOrderId: string;
  readonly side: Side;
  readonly type: OrderType;
  readonly timeInForce: TimeInForce;
  readonly price: number;
  readonly quantity: number;
  readonly filledQuantity: number;
  readonly status: OrderStatus;
  readonly stopPrice: number;
  readonly stp: Stp;
  readonly quoteOrderQty: number;
  readonly createdTimeMs: number;
  /** Σ price × quantity over this order's fills (exact). */
  filledQuote(): bigint;
}

/** Reusable buffer of changed price levels; entries [0, count) are valid during the callback. */
export interface DepthBuffer {
  prices: Float64Array;
  quantities: Float64Array; // 0 = level removed
  count: number;
}

export const RejectReason = {
  MARKET_HALTED: "MARKET_HALTED",
  MARKET_CLOSED: "MARKET_CLOSED",
  INVALID_SIDE: "INVALID_SIDE",
  INVALID_TYPE: "INVALID_TYPE",
  INVALID_TIME_IN_FORCE: "INVALID_TIME_IN_FORCE",
  INVALID_STP: "INVALID_STP",
  INVALID_ORDER_ID: "INVALID_ORDER_ID",
  INVALID_ACCOUNT: "INVALID_ACCOUNT",
  PRICE_FILTER: "PRICE_FILTER",
  LOT_SIZE: "LOT_SIZE",
  MIN_NOTIONAL: "MIN_NOTIONAL",
  /** price × quantity (or quantity × the market's max price, for a MARKET order) exceeds 2^63 − 1. */
  MAX_NOTIONAL: "MAX_NOTIONAL",
  INVALID_QUOTE_QTY: "INVALID_QUOTE_QTY",
  INVALID_STOP_PRICE: "INVALID_STOP_PRICE",
  DUPLICATE_ORDER_ID: "DUPLICATE_ORDER_ID",
  DUPLICATE_CLIENT_ORDER_ID: "DUPLICATE_CLIENT_ORDER_ID",
  WOULD_TAKE: "WOULD_TAKE",
  WOULD_TRIGGER_IMMEDIATELY: "WOULD_TRIGGER_IMMEDIATELY",
  UNKNOWN_ORDER: "UNKNOWN_ORDER",
  NOT_REPLACEABLE: "NOT_REPLACEABLE",
  LEVEL_OVERFLOW: "LEVEL_OVERFLOW",
  UNKNOWN_SYMBOL: "UNKNOWN_SYMBOL",
} as const;
export type RejectReason = (typeof RejectReason)[keyof typeof RejectReason];

export const CancelReason = {
  USER: "USER",
  MASS_CANCEL: "MASS_CANCEL",
  MARKET_CLOSED: "MARKET_CLOSED",
} as const;
export type CancelReason = (typeof CancelReason)[keyof typeof CancelReason];

export const ExpireReason = {
  IOC: "IOC",
  FOK: "FOK",
  STP: "STP",
  NO_LIQUIDITY: "NO_LIQUIDITY",
  BUDGET: "BUDGET",
  /**
   * The order's cumulative quote reached the int64 cap (2^63 − 1, see `QUOTE_CAP`): the next fill,
   * cut to whole steps, would pass it, or a limit order's remainder could pass it at its limit price.
   */
  MAX_NOTIONAL: "MAX_NOTIONAL",
} as const;
export type ExpireReason = (typeof ExpireReason)[keyof typeof ExpireReason];

/**
 * Receives a book's output. One command → a deterministic sequence of calls, in this order:
 * execution events as they happen, then at most one `depth` call (the command's net level changes).
 * `market` is the book's market id (the Engine's index of the market).
 */
export interface BookSink {
  accepted(market: number, order: OrderView): void;
  rejected(market: number, order: OrderView, reason: RejectReason): void;
  /** One fill. Trade price = maker price. Both views show the state after the fill. */
  trade(
    market: number,
    tradeId: number,
    price: number,
    quantity: number,
    buyerIsMaker: boolean,
    maker: OrderView,
    taker: OrderView,
  ): void;
  cancelled(market: number, order: OrderView, reason: CancelReason): void;
  expired(market: number, order: OrderView, reason: ExpireReason): void;
  replaced(market: number, oldOrder: OrderView, newOrder: OrderView, keptPriority: boolean): void;
  triggered(market: number, order: OrderView, triggerPrice: number): void;
  /** Levels whose total quantity changed in this command; bids best-first (desc), asks best-first (asc). */
  depth(
    market: number,
    firstUpdateId: number,
    lastUpdateId: number,
    bids: DepthBuffer,
    asks: DepthBuffer,
  ): void;
}

/** A plain copy of an order (queries, snapshots). filledQuote is a decimal string of the exact value. */
export interface OrderRecord {
  orderId: number;
  account: number;
  clientOrderId: string;
  side: Side;
  type: OrderType;
  timeInForce: TimeInForce;
  price: number;
  quantity: number;
  filledQuantity: number;
  filledQuote: string;
  status: OrderStatus;
  stopPrice: number;
  stp: Stp;
  quoteOrderQty: number;
  reserved: number;
  createdTimeMs: number;
  /** Entry sequence: time priority and mass-cancel order. */
  seq: number;
  /** Open quantity (resting orders) / quantity still to execute (pending stops). */
  leaves: number;
}

export interface LevelRecord {
  price: number;
  quantity: number;
  orders: number;
}

/** Serialisable (JSON) state of one book. restore(snapshot()) continues identically. */
export interface BookSnapshot {
  version: 1;
  marketId: number;
  spec: MarketSpec;
  nextSeq: number;
  lastTradeId: number;
  lastUpdateId: number;
  lastPrice: number;
  /** Resting orders then pending stops, each in ascending seq. */
  resting: OrderRecord[];
  stops: OrderRecord[];
}

/** The one interface with two implementations (FastBook, ReferenceBook). */
export interface OrderBook {
  readonly marketId: number;
  readonly spec: Readonly<MarketSpec>;
  place(cmd: PlaceCommand, timeMs: number): void;
  cancel(cmd: CancelCommand, timeMs: number): void;
  replace(cmd: ReplaceCommand, timeMs: number): void;
  /** Cancels every open order (resting and pending stops) of the account, in ascending order id. */
  massCancel(account: number, timeMs: number): void;
  /** HALT/BREAK stop new orders and replaces; entering BREAK cancels every open order (ascending order id). */
  setStatus(status: MarketStatus, timeMs: number): void;
  /** New filters apply to new orders and replaces; resting orders are untouched. */
  updateFilters(filters: MarketFilters): void;
  snapshot(): BookSnapshot;
  // --- queries (may allocate; not for the hot path) ---
  bestBid(): number; // 0 when empty
  bestAsk(): number; // 0 when empty
  lastPrice(): number;
  levels(side: Side, max?: number): LevelRecord[];
  openOrders(): OrderRecord[]; // resting + stops, ascending seq
  getOrder(orderId: number): OrderRecord | undefined;
  openOrderCount(): number;
}
