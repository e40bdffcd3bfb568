import type { KlineInterval } from "./intervals.ts";

/** One public trade, integers in the market's units (price: 10^-priceScale, qty: 10^-quantityScale). */
export interface Trade {
  symbol: string;
  id: number;
  price: bigint;
  qty: bigint;
  /** price × qty, in units of 10^-(priceScale + quantityScale). */
  quoteQty: bigint;
  time: number;
  buyerIsMaker: boolean;
}

/** Binance aggregate trade: consecutive fills of one taker order at one price. */
export interface AggTrade {
  symbol: string;
  id: number;
  price: bigint;
  qty: bigint;
  firstTradeId: number;
  lastTradeId: number;
  time: number;
  buyerIsMaker: boolean;
}

export interface Kline {
  symbol: string;
  interval: KlineInterval;
  openTime: number;
  closeTime: number;
  open: bigint;
  high: bigint;
  low: bigint;
  close: bigint;
  /** Base volume, in 10^-quantityScale units. */
  volume: bigint;
  /** Quote volume, in 10^-(priceScale + quantityScale) units. */
  quoteVolume: bigint;
  trades: number;
  takerBuyVolume: bigint;
  takerBuyQuoteVolume: bigint;
  firstTradeId: number;
  lastTradeId: number;
}

/** A depth change between update ids U..u (inclusive); quantity 0 removes a level. */
export interface DepthDiff {
  symbol: string;
  firstUpdateId: number;
  lastUpdateId: number;
  bids: [bigint, bigint][];
  asks: [bigint, bigint][];
  time: number;
}

/** Where a shard's event stream was consumed up to (ADR 7). */
export interface StreamCursor {
  epoch: bigint;
  sequence: bigint;
}
