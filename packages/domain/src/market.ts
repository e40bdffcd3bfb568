/**
 * Market specification types (numbers, not proto bigints). Enum values equal the proto enums
 * of excraft/v1/common.proto, so mapping is the identity on the numeric value.
 */
import { isSafeNonNegInt, isSafePosInt } from "./fixed.ts";

export const Side = { BUY: 1, SELL: 2 } as const;
export type Side = (typeof Side)[keyof typeof Side];

export const OrderType = {
  LIMIT: 1,
  MARKET: 2,
  LIMIT_MAKER: 3,
  STOP_LOSS: 4,
  STOP_LOSS_LIMIT: 5,
  TAKE_PROFIT: 6,
  TAKE_PROFIT_LIMIT: 7,
} as const;
export type OrderType = (typeof OrderType)[keyof typeof OrderType];

export const TimeInForce = { UNSPECIFIED: 0, GTC: 1, IOC: 2, FOK: 3 } as const;
export type TimeInForce = (typeof TimeInForce)[keyof typeof TimeInForce];

export const Stp = { UNSPECIFIED: 0, NONE: 1, EXPIRE_TAKER: 2, EXPIRE_MAKER: 3, EXPIRE_BOTH: 4 } as const;
export type Stp = (typeof Stp)[keyof typeof Stp];

export const OrderStatus = {
  NEW: 1,
  PARTIALLY_FILLED: 2,
  FILLED: 3,
  CANCELED: 4,
  REJECTED: 5,
  EXPIRED: 6,
  EXPIRED_IN_MATCH: 7,
  PENDING_NEW: 8,
} as const;
export type OrderStatus = (typeof OrderStatus)[keyof typeof OrderStatus];

export const MarketStatus = { TRADING: 1, HALT: 2, BREAK: 3 } as const;
export type MarketStatus = (typeof MarketStatus)[keyof typeof MarketStatus];

/** Trading filters of a market, all in the market's integer units. 0 disables min/max price and max qty. */
export interface MarketFilters {
  tickSize: number;
  stepSize: number;
  minQty: number;
  maxQty: number;
  minPrice: number;
  maxPrice: number;
  minNotional: number;
}

export interface MarketSpec extends MarketFilters {
  symbol: string;
  baseAsset: string;
  quoteAsset: string;
  priceScale: number;
  quantityScale: number;
  status: MarketStatus;
  defaultStp: Stp;
}

export function isStopType(t: number): boolean {
  return t >= OrderType.STOP_LOSS && t <= OrderType.TAKE_PROFIT_LIMIT;
}

/** Returns null when the filters are valid, else a message. */
export function validateFilters(f: MarketFilters): string | null {
  if (!isSafePosInt(f.tickSize)) return "tickSize must be a positive safe integer";
  if (!isSafePosInt(f.stepSize)) return "stepSize must be a positive safe integer";
  for (const k of ["minQty", "maxQty", "minPrice", "maxPrice", "minNotional"] as const) {
    if (!isSafeNonNegInt(f[k])) return `${k} must be a non-negative safe integer`;
  }
  if (f.maxQty !== 0 && f.maxQty < f.minQty) return "maxQty < minQty";
  if (f.maxPrice !== 0 && f.maxPrice < f.minPrice) return "maxPrice < minPrice";
  return null;
}

export function validateMarketSpec(s: MarketSpec): string | null {
  if (!/^[A-Z0-9]{2,20}$/.test(s.symbol)) return "symbol must be 2-20 upper-case letters/digits";
  if (s.baseAsset === "" || s.quoteAsset === "") return "baseAsset and quoteAsset are required";
  if (!Number.isInteger(s.priceScale) || s.priceScale < 0 || s.priceScale > 18) return "bad priceScale";
  if (!Number.isInteger(s.quantityScale) || s.quantityScale < 0 || s.quantityScale > 18)
    return "bad quantityScale";
  if (s.status !== 1 && s.status !== 2 && s.status !== 3) return "bad status";
  if (!(s.defaultStp >= 0 && s.defaultStp <= 4 && Number.isInteger(s.defaultStp))) return "bad defaultStp";
  return validateFilters(s);
}
