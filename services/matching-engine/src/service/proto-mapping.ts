/**
 * Mapping between the wire types of excraft/v1 (bigint int64 fields) and the engine's numbers.
 * The books keep prices, quantities and ids as safe integers; anything outside that range is
 * rejected at this boundary instead of silently losing precision.
 */
import type { MarketSpec as DomainMarketSpec, MarketFilters } from "@excraft/domain";
import type { MarketSpec, OrderState } from "@excraft/proto";
import type { OrderRecord, OrderView } from "../book/types.ts";
import type { AccountRegistry } from "../engine.ts";

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

export class FieldRangeError extends Error {
  constructor(readonly field: string) {
    super(`${field} is outside the safe integer range 0..2^53-1`);
  }
}

/** bigint → number for a non-negative field; throws FieldRangeError beyond 2^53 − 1. */
export function safeNumber(value: bigint, field: string): number {
  if (value < 0n || value > MAX_SAFE) throw new FieldRangeError(field);
  return Number(value);
}

export function filtersFromProto(spec: MarketSpec): MarketFilters {
  return {
    tickSize: safeNumber(spec.tickSize, "tickSize"),
    stepSize: safeNumber(spec.stepSize, "stepSize"),
    minQty: safeNumber(spec.minQty, "minQty"),
    maxQty: safeNumber(spec.maxQty, "maxQty"),
    minPrice: safeNumber(spec.minPrice, "minPrice"),
    maxPrice: safeNumber(spec.maxPrice, "maxPrice"),
    minNotional: safeNumber(spec.minNotional, "minNotional"),
  };
}

export function specFromProto(spec: MarketSpec): DomainMarketSpec {
  return {
    ...filtersFromProto(spec),
    symbol: spec.symbol,
    baseAsset: spec.baseAsset,
    quoteAsset: spec.quoteAsset,
    priceScale: spec.priceScale,
    quantityScale: spec.quantityScale,
    status: spec.status as DomainMarketSpec["status"],
    defaultStp: spec.defaultStp as DomainMarketSpec["defaultStp"],
  };
}

export function specToProto(spec: Readonly<DomainMarketSpec>, shard: number): MarketSpec {
  return {
    symbol: spec.symbol,
    baseAsset: spec.baseAsset,
    quoteAsset: spec.quoteAsset,
    priceScale: spec.priceScale,
    quantityScale: spec.quantityScale,
    tickSize: BigInt(spec.tickSize),
    stepSize: BigInt(spec.stepSize),
    minQty: BigInt(spec.minQty),
    maxQty: BigInt(spec.maxQty),
    minPrice: BigInt(spec.minPrice),
    maxPrice: BigInt(spec.maxPrice),
    minNotional: BigInt(spec.minNotional),
    status: spec.status,
    defaultStp: spec.defaultStp,
    shard,
  };
}

/** Copies a flyweight order view (valid only during a sink callback) into a wire OrderState. */
export function orderStateFromView(view: OrderView, accounts: AccountRegistry): OrderState {
  return {
    orderId: BigInt(view.orderId),
    accountId: view.account >= 0 ? accounts.name(view.account) : "",
    clientOrderId: view.clientOrderId,
    side: view.side,
    type: view.type,
    timeInForce: view.timeInForce,
    price: BigInt(view.price),
    quantity: BigInt(view.quantity),
    filledQuantity: BigInt(view.filledQuantity),
    filledQuote: view.filledQuote(),
    status: view.status,
    stopPrice: BigInt(view.stopPrice),
    selfTradePrevention: view.stp,
    quoteOrderQty: BigInt(view.quoteOrderQty),
    createdTimeMs: BigInt(view.createdTimeMs),
  };
}

export function orderStateFromRecord(order: OrderRecord, accounts: AccountRegistry): OrderState {
  return {
    orderId: BigInt(order.orderId),
    accountId: accounts.name(order.account),
    clientOrderId: order.clientOrderId,
    side: order.side,
    type: order.type,
    timeInForce: order.timeInForce,
    price: BigInt(order.price),
    quantity: BigInt(order.quantity),
    filledQuantity: BigInt(order.filledQuantity),
    filledQuote: BigInt(order.filledQuote),
    status: order.status,
    stopPrice: BigInt(order.stopPrice),
    selfTradePrevention: order.stp,
    quoteOrderQty: BigInt(order.quoteOrderQty),
    createdTimeMs: BigInt(order.createdTimeMs),
  };
}
