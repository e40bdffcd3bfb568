/**
 * In-memory state of one market, fed trade by trade: the current kline of every interval, the
 * 1-minute klines of the last 25 hours (the buckets of the rolling 24h ticker and avgPrice) and
 * the last trade. All sums are bigint. Memory per market is bounded (16 klines + ≤ 1,500 minutes).
 */
import { KLINE_INTERVALS, type KlineInterval, klineCloseTime, klineOpenTime } from "./intervals.ts";
import type { AggTrade, Kline, Trade } from "./types.ts";

const MINUTE = 60_000;
const KEEP_MINUTES_MS = 25 * 60 * MINUTE;

export class MarketState {
  lastTrade: Trade | undefined;
  /** Next aggregate trade id. */
  nextAggId = 0;
  readonly current = new Map<KlineInterval, Kline>();
  /** Closed 1m klines, oldest first, for the rolling windows. */
  readonly minutes: Kline[] = [];
  private pendingAgg: { agg: AggTrade; commandId: string } | undefined;

  constructor(readonly symbol: string) {}

  /**
   * Applies one trade (ids must increase; an older id is ignored). Trade times are made monotonic per
   * market (a trade never sorts before the previous one) so every kline receives trades in order.
   * Returns the klines it touched, or [] when it was ignored.
   */
  applyTrade(trade: Trade): Kline[] {
    if (this.lastTrade && trade.id <= this.lastTrade.id) return [];
    if (this.lastTrade && trade.time < this.lastTrade.time) trade.time = this.lastTrade.time;
    this.lastTrade = trade;
    const touched: Kline[] = [];
    for (const interval of KLINE_INTERVALS) {
      const openTime = klineOpenTime(interval, trade.time);
      let kline = this.current.get(interval);
      if (kline === undefined || kline.openTime !== openTime) {
        if (kline !== undefined && interval === "1m") this.closeMinute(kline);
        kline = newKline(this.symbol, interval, openTime, trade);
        this.current.set(interval, kline);
      } else {
        addTrade(kline, trade);
      }
      touched.push(kline);
    }
    return touched;
  }

  /**
   * Groups consecutive trades of one command (one taker order) at one price into aggregate trades.
   * Returns the aggregate closed by this trade, if any.
   */
  aggregate(trade: Trade, commandId: string): AggTrade | undefined {
    const open = this.pendingAgg;
    if (
      open &&
      open.commandId === commandId &&
      commandId !== "" &&
      open.agg.price === trade.price &&
      open.agg.buyerIsMaker === trade.buyerIsMaker &&
      open.agg.lastTradeId + 1 === trade.id
    ) {
      open.agg.qty += trade.qty;
      open.agg.lastTradeId = trade.id;
      return undefined;
    }
    const closed = this.flushAgg();
    this.pendingAgg = {
      commandId,
      agg: {
        symbol: this.symbol,
        id: this.nextAggId++,
        price: trade.price,
        qty: trade.qty,
        firstTradeId: trade.id,
        lastTradeId: trade.id,
        time: trade.time,
        buyerIsMaker: trade.buyerIsMaker,
      },
    };
    return closed;
  }

  /** Closes the open aggregate (at the end of every consumed batch). */
  flushAgg(): AggTrade | undefined {
    const open = this.pendingAgg;
    this.pendingAgg = undefined;
    return open?.agg;
  }

  /** Restores from persisted klines. */
  restoreKline(kline: Kline): void {
    const cur = this.current.get(kline.interval);
    if (cur === undefined || cur.openTime < kline.openTime) this.current.set(kline.interval, kline);
  }

  restoreMinute(kline: Kline): void {
    const cur = this.current.get("1m");
    if (cur && cur.openTime === kline.openTime) return;
    this.minutes.push(kline);
  }

  /** The 1m klines (closed and current) with openTime ≥ since, oldest first. */
  minutesSince(since: number): Kline[] {
    const out = this.minutes.filter((k) => k.openTime >= since);
    const cur = this.current.get("1m");
    if (cur && cur.openTime >= since) out.push(cur);
    return out;
  }

  /** Close price of the last 1m kline that opened before `before`, if still kept. */
  closeBefore(before: number): bigint | undefined {
    let close: bigint | undefined;
    for (const k of this.minutes) if (k.openTime < before) close = k.close;
    const cur = this.current.get("1m");
    if (cur && cur.openTime < before) close = cur.close;
    return close;
  }

  private closeMinute(kline: Kline): void {
    this.minutes.push(kline);
    const horizon = kline.openTime - KEEP_MINUTES_MS;
    let drop = 0;
    while (drop < this.minutes.length && this.minutes[drop]!.openTime < horizon) drop++;
    if (drop > 0) this.minutes.splice(0, drop);
  }
}

function newKline(symbol: string, interval: KlineInterval, openTime: number, t: Trade): Kline {
  const takerBuy = !t.buyerIsMaker;
  return {
    symbol,
    interval,
    openTime,
    closeTime: klineCloseTime(interval, openTime),
    open: t.price,
    high: t.price,
    low: t.price,
    close: t.price,
    volume: t.qty,
    quoteVolume: t.quoteQty,
    trades: 1,
    takerBuyVolume: takerBuy ? t.qty : 0n,
    takerBuyQuoteVolume: takerBuy ? t.quoteQty : 0n,
    firstTradeId: t.id,
    lastTradeId: t.id,
  };
}

function addTrade(k: Kline, t: Trade): void {
  if (t.price > k.high) k.high = t.price;
  if (t.price < k.low) k.low = t.price;
  k.close = t.price;
  k.volume += t.qty;
  k.quoteVolume += t.quoteQty;
  k.trades += 1;
  if (!t.buyerIsMaker) {
    k.takerBuyVolume += t.qty;
    k.takerBuyQuoteVolume += t.quoteQty;
  }
  k.lastTradeId = t.id;
}

/** Rolling-window statistics over 1m buckets (exact sums; the window edge is minute-aligned). */
export interface WindowStats {
  open: bigint;
  high: bigint;
  low: bigint;
  close: bigint;
  volume: bigint;
  quoteVolume: bigint;
  firstId: number;
  lastId: number;
  count: number;
}

export function windowStats(buckets: Kline[]): WindowStats | undefined {
  if (buckets.length === 0) return undefined;
  const first = buckets[0]!;
  const stats: WindowStats = {
    open: first.open,
    high: first.high,
    low: first.low,
    close: first.close,
    volume: 0n,
    quoteVolume: 0n,
    firstId: first.firstTradeId,
    lastId: first.lastTradeId,
    count: 0,
  };
  for (const k of buckets) {
    if (k.high > stats.high) stats.high = k.high;
    if (k.low < stats.low) stats.low = k.low;
    stats.close = k.close;
    stats.volume += k.volume;
    stats.quoteVolume += k.quoteVolume;
    stats.lastId = k.lastTradeId;
    stats.count += k.trades;
  }
  return stats;
}
