/** Pieces shared by both book implementations: validation order, trigger rules, views of commands. */
import {
  isSafeNonNegInt,
  isSafePosInt,
  type MarketFilters,
  MarketStatus,
  notionalAtLeast,
  notionalFitsInt64,
  OrderStatus,
  OrderType,
  type Side,
  Stp,
  type TimeInForce,
} from "@excraft/domain";
import { type OrderView, type PlaceCommand, RejectReason } from "./types.ts";

export const BUY = 1;
export const SELL = 2;

export function isLimitLike(type: number): boolean {
  return (
    type === OrderType.LIMIT ||
    type === OrderType.LIMIT_MAKER ||
    type === OrderType.STOP_LOSS_LIMIT ||
    type === OrderType.TAKE_PROFIT_LIMIT
  );
}

export function isStop(type: number): boolean {
  return type >= OrderType.STOP_LOSS && type <= OrderType.TAKE_PROFIT_LIMIT;
}

/** Binance semantics: STOP_LOSS* BUY ≥, SELL ≤; TAKE_PROFIT* BUY ≤, SELL ≥ (last trade price vs stop). */
export function stopTriggers(type: number, side: number, stopPrice: number, last: number): boolean {
  if (last === 0) return false;
  const stopLoss = type === OrderType.STOP_LOSS || type === OrderType.STOP_LOSS_LIMIT;
  const up = stopLoss === (side === BUY); // triggers when last ≥ stop
  return up ? last >= stopPrice : last <= stopPrice;
}

/** A positive safe integer (inlineable form of Number.isSafeInteger(x) && x > 0). */
function posInt(x: number): boolean {
  return x > 0 && x <= 9007199254740991 && Math.floor(x) === x;
}

export function priceOk(f: MarketFilters, price: number): boolean {
  return (
    posInt(price) &&
    price % f.tickSize === 0 &&
    (f.minPrice === 0 || price >= f.minPrice) &&
    (f.maxPrice === 0 || price <= f.maxPrice)
  );
}

export function qtyOk(f: MarketFilters, qty: number): boolean {
  return posInt(qty) && qty % f.stepSize === 0 && qty >= f.minQty && (f.maxQty === 0 || qty <= f.maxQty);
}

/**
 * Stateless validation of a new order, in the fixed check order both books share.
 * Returns null when valid. State checks (duplicates, WOULD_TAKE, triggers) come after, in the book.
 */
export function validatePlace(status: number, f: MarketFilters, c: PlaceCommand): RejectReason | null {
  if (status === MarketStatus.HALT) return RejectReason.MARKET_HALTED;
  if (status === MarketStatus.BREAK) return RejectReason.MARKET_CLOSED;
  if (c.side !== 1 && c.side !== 2) return RejectReason.INVALID_SIDE;
  const t = c.type;
  if (!(t >= 1 && t <= 7 && Number.isInteger(t))) return RejectReason.INVALID_TYPE;
  if (!isSafePosInt(c.orderId)) return RejectReason.INVALID_ORDER_ID;
  if (!(Number.isInteger(c.account) && c.account >= 0 && c.account < 2 ** 31))
    return RejectReason.INVALID_ACCOUNT;
  if (!(c.stp >= 0 && c.stp <= 4 && Number.isInteger(c.stp))) return RejectReason.INVALID_STP;
  const limitLike = isLimitLike(t);
  if (limitLike && t !== OrderType.LIMIT_MAKER) {
    const tif = c.timeInForce;
    if (tif !== 1 && tif !== 2 && tif !== 3) return RejectReason.INVALID_TIME_IN_FORCE;
  }
  if (limitLike) {
    if (!priceOk(f, c.price)) return RejectReason.PRICE_FILTER;
  } else if (c.price !== 0) return RejectReason.PRICE_FILTER;
  if (isStop(t)) {
    if (!priceOk(f, c.stopPrice)) return RejectReason.INVALID_STOP_PRICE;
  } else if (c.stopPrice !== 0) return RejectReason.INVALID_STOP_PRICE;
  if (t === OrderType.MARKET && c.quoteOrderQty !== 0) {
    if (c.quantity !== 0 || !isSafePosInt(c.quoteOrderQty)) return RejectReason.INVALID_QUOTE_QTY;
    if (c.quoteOrderQty < f.minNotional) return RejectReason.MIN_NOTIONAL;
  } else {
    if (c.quoteOrderQty !== 0) return RejectReason.INVALID_QUOTE_QTY;
    if (!qtyOk(f, c.quantity)) return RejectReason.LOT_SIZE;
  }
  if (limitLike && !notionalAtLeast(c.price, c.quantity, f.minNotional)) return RejectReason.MIN_NOTIONAL;
  if (!notionalFitsInt64(limitLike ? c.price : f.maxPrice, c.quantity)) return RejectReason.MAX_NOTIONAL;
  if (!isSafeNonNegInt(c.reserved)) return RejectReason.INVALID_QUOTE_QTY;
  return null;
}

export function resolveStp(given: number, marketDefault: number): Stp {
  if (given !== Stp.UNSPECIFIED) return given as Stp;
  if (marketDefault !== Stp.UNSPECIFIED) return marketDefault as Stp;
  return Stp.NONE;
}

/**
 * The cap of an order's cumulative quote (filledQuote, Σ price × quantity over its fills): the int64
 * the engine emits it as. Where the bound is known up front the order is rejected (MAX_NOTIONAL in
 * validatePlace). Otherwise both books apply the same rule while matching a taker:
 * - a fill that would take filledQuote past the cap is cut to the whole steps that still fit
 *   (possibly none) and the sweep stops there; the remainder expires (ExpireReason.MAX_NOTIONAL) —
 *   a limit order's too, as resting it would cross the book;
 * - a limit order rests only if filledQuote + open quantity × limit price fits (its later fills as a
 *   maker are at that price); else its remainder expires (MAX_NOTIONAL). Only a SELL that filled
 *   above its limit can get there;
 * - a FOK order fills completely within the cap or expires (FOK) without trading.
 * Orders with a quote budget (quoteOrderQty, reserved) never get near it: the budget is < 2^53.
 */
export const QUOTE_CAP = 2n ** 63n - 1n;

/** floor(rem / price) rounded down to a multiple of step, exact for safe integers. */
export function affordable(rem: number, price: number, step: number): number {
  let q = Math.floor(rem / price);
  if (q * price > rem) q--;
  return q - (q % step);
}

/** A mutable plain view, used for rejected commands and by the reference book. */
export class PlainView implements OrderView {
  orderId = 0;
  account = 0;
  clientOrderId = "";
  side: Side = 1;
  type: OrderType = 1;
  timeInForce: TimeInForce = 0;
  price = 0;
  quantity = 0;
  filledQuantity = 0;
  status: OrderStatus = OrderStatus.NEW;
  stopPrice = 0;
  stp: Stp = 0;
  quoteOrderQty = 0;
  createdTimeMs = 0;
  quote = 0n;
  filledQuote(): bigint {
    return this.quote;
  }
  /** A view of a rejected new order, taken from the command. */
  fromPlace(c: PlaceCommand, timeMs: number): this {
    this.orderId = c.orderId;
    this.account = c.account;
    this.clientOrderId = c.clientOrderId;
    this.side = c.side;
    this.type = c.type;
    this.timeInForce = c.timeInForce;
    this.price = c.price;
    this.quantity = c.quantity;
    this.filledQuantity = 0;
    this.status = OrderStatus.REJECTED;
    this.stopPrice = c.stopPrice;
    this.stp = c.stp;
    this.quoteOrderQty = c.quoteOrderQty;
    this.createdTimeMs = timeMs;
    this.quote = 0n;
    return this;
  }
  /** A view of a rejected cancel / replace: only the identifying fields are set. */
  fromRef(account: number, orderId: number, clientOrderId: string, timeMs: number): this {
    this.orderId = orderId;
    this.account = account;
    this.clientOrderId = clientOrderId;
    this.side = 1;
    this.type = 1;
    this.timeInForce = 0;
    this.price = 0;
    this.quantity = 0;
    this.filledQuantity = 0;
    this.status = OrderStatus.REJECTED;
    this.stopPrice = 0;
    this.stp = 0;
    this.quoteOrderQty = 0;
    this.createdTimeMs = timeMs;
    this.quote = 0n;
    return this;
  }
}
