/**
 * Binance Spot JSON shapes, from integers. Every decimal goes through `formatUnits` with the
 * market's scales (8 fractional digits, more only when a scale is finer than 8).
 */
import type { BookSnapshot, MarketSpec, PriceLevel } from "@excraft/proto";
import { displayDecimals, formatFixed, formatRatio, formatUnits } from "./decimal.ts";
import { type MarketState, windowStats } from "./projector/market-state.ts";
import type { AggTrade, Kline, Trade } from "./projector/types.ts";

export const price = (spec: MarketSpec, units: bigint | number) => formatUnits(units, spec.priceScale);
export const qty = (spec: MarketSpec, units: bigint | number) => formatUnits(units, spec.quantityScale);
export const quote = (spec: MarketSpec, units: bigint | number) =>
  formatUnits(units, spec.priceScale + spec.quantityScale);

export type Level = [string, string];

export function levels(spec: MarketSpec, list: PriceLevel[] | [bigint, bigint][]): Level[] {
  return list.map((l) =>
    Array.isArray(l) ? [price(spec, l[0]), qty(spec, l[1])] : [price(spec, l.price), qty(spec, l.quantity)],
  );
}

export function depthJson(spec: MarketSpec, book: BookSnapshot) {
  return {
    lastUpdateId: Number(book.lastUpdateId),
    bids: levels(spec, book.bids),
    asks: levels(spec, book.asks),
  };
}

export function tradeJson(spec: MarketSpec, t: Trade) {
  return {
    id: t.id,
    price: price(spec, t.price),
    qty: qty(spec, t.qty),
    quoteQty: quote(spec, t.quoteQty),
    time: t.time,
    isBuyerMaker: t.buyerIsMaker,
    isBestMatch: true,
  };
}

export function aggTradeJson(spec: MarketSpec, a: AggTrade) {
  return {
    a: a.id,
    p: price(spec, a.price),
    q: qty(spec, a.qty),
    f: a.firstTradeId,
    l: a.lastTradeId,
    T: a.time,
    m: a.buyerIsMaker,
    M: true,
  };
}

/** [openTime, open, high, low, close, volume, closeTime, quoteVolume, trades, takerBuyBase, takerBuyQuote, "0"] */
export function klineArray(spec: MarketSpec, k: Kline) {
  return [
    k.openTime,
    price(spec, k.open),
    price(spec, k.high),
    price(spec, k.low),
    price(spec, k.close),
    qty(spec, k.volume),
    k.closeTime,
    quote(spec, k.quoteVolume),
    k.trades,
    qty(spec, k.takerBuyVolume),
    quote(spec, k.takerBuyQuoteVolume),
    "0",
  ];
}

export interface BestPrices {
  bidPrice: bigint;
  bidQty: bigint;
  askPrice: bigint;
  askQty: bigint;
}

export function bestOf(book: BookSnapshot | undefined): BestPrices {
  return {
    bidPrice: book?.bids[0]?.price ?? 0n,
    bidQty: book?.bids[0]?.quantity ?? 0n,
    askPrice: book?.asks[0]?.price ?? 0n,
    askQty: book?.asks[0]?.quantity ?? 0n,
  };
}

const DAY = 86_400_000;

/**
 * Rolling 24h statistics. The window is built from 1-minute buckets: it covers the trades of the
 * minutes that opened in (now − 24h, now], so its start is minute-aligned; all sums are exact.
 */
export function ticker24Json(
  spec: MarketSpec,
  state: MarketState | undefined,
  best: BestPrices,
  now: number,
) {
  const from = Math.floor((now - DAY) / 60_000) * 60_000 + 60_000;
  const stats = state ? windowStats(state.minutesSince(from)) : undefined;
  const prevClose = state?.closeBefore(from) ?? 0n;
  const last = stats?.close ?? 0n;
  const open = stats?.open ?? 0n;
  const change = stats ? last - open : 0n;
  const lastQty = stats && state?.lastTrade ? state.lastTrade.qty : 0n;
  return {
    symbol: spec.symbol,
    priceChange: price(spec, change),
    priceChangePercent: open === 0n ? "0.000" : formatRatio(change * 100n, 0, open, 0, 3),
    weightedAvgPrice: stats
      ? formatRatio(
          stats.quoteVolume,
          spec.priceScale + spec.quantityScale,
          stats.volume,
          spec.quantityScale,
          displayDecimals(spec.priceScale),
        )
      : price(spec, 0n),
    prevClosePrice: price(spec, prevClose),
    lastPrice: price(spec, last),
    lastQty: qty(spec, lastQty),
    bidPrice: price(spec, best.bidPrice),
    bidQty: qty(spec, best.bidQty),
    askPrice: price(spec, best.askPrice),
    askQty: qty(spec, best.askQty),
    openPrice: price(spec, open),
    highPrice: price(spec, stats?.high ?? 0n),
    lowPrice: price(spec, stats?.low ?? 0n),
    volume: qty(spec, stats?.volume ?? 0n),
    quoteVolume: quote(spec, stats?.quoteVolume ?? 0n),
    openTime: now - DAY,
    closeTime: now,
    firstId: stats ? stats.firstId : -1,
    lastId: stats ? stats.lastId : -1,
    count: stats?.count ?? 0,
  };
}

/** avgPrice: volume-weighted price of the trades of the last `mins` minutes (minute buckets). */
export function avgPriceJson(spec: MarketSpec, state: MarketState | undefined, now: number, mins = 5) {
  const from = Math.floor(now / 60_000) * 60_000 - (mins - 1) * 60_000;
  const stats = state ? windowStats(state.minutesSince(from)) : undefined;
  const last = state?.lastTrade;
  return {
    mins,
    price: stats
      ? formatRatio(
          stats.quoteVolume,
          spec.priceScale + spec.quantityScale,
          stats.volume,
          spec.quantityScale,
          displayDecimals(spec.priceScale),
        )
      : last
        ? price(spec, last.price)
        : formatFixed(0n, displayDecimals(spec.priceScale)),
    closeTime: last?.time ?? 0,
  };
}
