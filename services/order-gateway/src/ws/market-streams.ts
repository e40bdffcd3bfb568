/**
 * Turns projector output into Binance stream payloads on the hub:
 *  - `@trade`, `@aggTrade`: at once, after the batch is durable;
 *  - `@depth@100ms` / `@depth` (1000 ms): the engine's diffs merged per window; U = first update id
 *    of the window, u = last, so consecutive events chain (next U = previous u + 1) for Binance's
 *    book-rebuild procedure;
 *  - `@depth<N>[@100ms]`: the engine's top N levels (GetOrderBook) every window;
 *  - `@bookTicker`: best bid/ask from the engine after each depth change (one query in flight per
 *    market, coalesced), sent when it changed;
 *  - `@kline_<i>`: every second for klines that changed, plus `x: true` once a kline has closed;
 *  - `@ticker`, `@miniTicker`: every second for markets that traded.
 * Merge buffers exist only while a feed has subscribers and are emptied every window.
 */

import type { Logger } from "@excraft/platform";
import type { BookSnapshot, MarketSpec } from "@excraft/proto";
import type { OrderBookSource } from "../engine/order-book-source.ts";
import { bestOf, levels, price, qty, quote, ticker24Json } from "../format.ts";
import type { MarketRegistry } from "../markets.ts";
import type { MarketDataListener, MarketDataProjector } from "../projector/projector.ts";
import type { AggTrade, DepthDiff, Kline, Trade } from "../projector/types.ts";
import type { StreamHub } from "./hub.ts";

interface DiffWindow {
  first: number;
  last: number;
  bids: Map<bigint, bigint>;
  asks: Map<bigint, bigint>;
}

export interface MarketStreamsOptions {
  hub: StreamHub;
  markets: MarketRegistry;
  books: OrderBookSource;
  projector: MarketDataProjector;
  logger: Logger;
  now?: () => number;
}

export class MarketStreams implements MarketDataListener {
  private readonly windows = { 100: new Map<string, DiffWindow>(), 1000: new Map<string, DiffWindow>() };
  private readonly klines = new Map<string, { kline: Kline; dirty: boolean; final: boolean }>();
  private readonly tickerDirty = new Set<string>();
  private readonly bookTickers = new Map<string, { inFlight: boolean; again: boolean; last: string }>();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly now: () => number;
  private partialBusy = { 100: false, 1000: false };

  constructor(private readonly options: MarketStreamsOptions) {
    this.now = options.now ?? Date.now;
  }

  start(): void {
    this.timers.push(setInterval(() => this.tick(100), 100));
    this.timers.push(setInterval(() => this.tick(1000), 1000));
    for (const t of this.timers) t.unref();
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers.length = 0;
  }

  private spec(symbol: string): MarketSpec | undefined {
    return this.options.markets.get(symbol);
  }

  onTrades(trades: Trade[]): void {
    const { hub } = this.options;
    for (const t of trades) {
      this.tickerDirty.add(t.symbol);
      const feed = `${t.symbol.toLowerCase()}@trade`;
      if (!hub.has(feed)) continue;
      const spec = this.spec(t.symbol);
      if (!spec) continue;
      hub.publish(feed, {
        e: "trade",
        E: this.now(),
        s: t.symbol,
        t: t.id,
        p: price(spec, t.price),
        q: qty(spec, t.qty),
        T: t.time,
        m: t.buyerIsMaker,
        M: true,
      });
    }
  }

  onAggTrades(aggTrades: AggTrade[]): void {
    const { hub } = this.options;
    for (const a of aggTrades) {
      const feed = `${a.symbol.toLowerCase()}@aggTrade`;
      if (!hub.has(feed)) continue;
      const spec = this.spec(a.symbol);
      if (!spec) continue;
      hub.publish(feed, {
        e: "aggTrade",
        E: this.now(),
        s: a.symbol,
        a: a.id,
        p: price(spec, a.price),
        q: qty(spec, a.qty),
        f: a.firstTradeId,
        l: a.lastTradeId,
        T: a.time,
        m: a.buyerIsMaker,
        M: true,
      });
    }
  }

  onDepth(diffs: DepthDiff[]): void {
    const { hub } = this.options;
    for (const d of diffs) {
      const lower = d.symbol.toLowerCase();
      for (const speed of [100, 1000] as const) {
        if (!hub.has(`${lower}@depth@${speed}ms`)) {
          this.windows[speed].delete(d.symbol);
          continue;
        }
        let w = this.windows[speed].get(d.symbol);
        if (!w) {
          w = { first: d.firstUpdateId, last: d.lastUpdateId, bids: new Map(), asks: new Map() };
          this.windows[speed].set(d.symbol, w);
        }
        w.last = d.lastUpdateId;
        for (const [p, q] of d.bids) w.bids.set(p, q);
        for (const [p, q] of d.asks) w.asks.set(p, q);
      }
      if (hub.has(`${lower}@bookTicker`)) this.refreshBookTicker(d.symbol);
    }
  }

  onKlines(klines: Kline[]): void {
    for (const k of klines) {
      const key = `${k.symbol}|${k.interval}`;
      const entry = this.klines.get(key);
      if (entry && entry.kline.openTime < k.openTime && !entry.final) {
        // The previous kline closed: its final state goes out before the new one.
        this.emitKline(entry.kline, true);
      }
      this.klines.set(key, { kline: k, dirty: true, final: false });
    }
  }

  private emitKline(k: Kline, final: boolean): void {
    const feed = `${k.symbol.toLowerCase()}@kline_${k.interval}`;
    const spec = this.spec(k.symbol);
    if (!spec || !this.options.hub.has(feed)) return;
    this.options.hub.publish(feed, {
      e: "kline",
      E: this.now(),
      s: k.symbol,
      k: {
        t: k.openTime,
        T: k.closeTime,
        s: k.symbol,
        i: k.interval,
        f: k.firstTradeId,
        L: k.lastTradeId,
        o: price(spec, k.open),
        c: price(spec, k.close),
        h: price(spec, k.high),
        l: price(spec, k.low),
        v: qty(spec, k.volume),
        n: k.trades,
        x: final,
        q: quote(spec, k.quoteVolume),
        V: qty(spec, k.takerBuyVolume),
        Q: quote(spec, k.takerBuyQuoteVolume),
        B: "0",
      },
    });
  }

  private tick(speed: 100 | 1000): void {
    this.flushDiffs(speed);
    void this.partialDepth(speed);
    if (speed === 1000) {
      const now = this.now();
      for (const entry of this.klines.values()) {
        const closed = entry.kline.closeTime < now;
        if (entry.dirty || (closed && !entry.final)) this.emitKline(entry.kline, closed);
        entry.dirty = false;
        if (closed) entry.final = true;
      }
      for (const [key, entry] of this.klines) if (entry.final) this.klines.delete(key);
      void this.tickers();
    }
  }

  private flushDiffs(speed: 100 | 1000): void {
    const windows = this.windows[speed];
    if (windows.size === 0) return;
    const E = this.now();
    for (const [symbol, w] of windows) {
      const spec = this.spec(symbol);
      if (!spec) continue;
      this.options.hub.publish(`${symbol.toLowerCase()}@depth@${speed}ms`, {
        e: "depthUpdate",
        E,
        s: symbol,
        U: w.first,
        u: w.last,
        b: levels(spec, [...w.bids]),
        a: levels(spec, [...w.asks]),
      });
    }
    windows.clear();
  }

  /** Feeds `<s>@depth<N>@<speed>ms` with subscribers → one GetOrderBook(20) per market per window. */
  private async partialDepth(speed: 100 | 1000): Promise<void> {
    if (this.partialBusy[speed]) return;
    const wanted = new Map<string, number[]>();
    for (const feed of this.options.hub.activeFeeds()) {
      const m = /^(.+)@depth(5|10|20)@(\d+)ms$/.exec(feed);
      if (!m || Number(m[3]) !== speed) continue;
      const list = wanted.get(m[1]!) ?? [];
      list.push(Number(m[2]));
      wanted.set(m[1]!, list);
    }
    if (wanted.size === 0) return;
    this.partialBusy[speed] = true;
    try {
      await Promise.all(
        [...wanted].map(async ([lower, sizes]) => {
          const spec = this.options.markets.fromStreamSymbol(lower);
          if (!spec) return;
          let book: BookSnapshot;
          try {
            book = await this.options.books.getOrderBook(spec.symbol, Math.max(...sizes));
          } catch {
            return;
          }
          for (const n of sizes) {
            this.options.hub.publish(`${lower}@depth${n}@${speed}ms`, () => ({
              lastUpdateId: Number(book.lastUpdateId),
              bids: levels(spec, book.bids.slice(0, n)),
              asks: levels(spec, book.asks.slice(0, n)),
            }));
          }
        }),
      );
    } finally {
      this.partialBusy[speed] = false;
    }
  }

  private refreshBookTicker(symbol: string): void {
    let state = this.bookTickers.get(symbol);
    if (!state) {
      state = { inFlight: false, again: false, last: "" };
      this.bookTickers.set(symbol, state);
    }
    if (state.inFlight) {
      state.again = true;
      return;
    }
    state.inFlight = true;
    const s = state;
    const spec = this.spec(symbol);
    const run = async () => {
      try {
        do {
          s.again = false;
          if (!spec) return;
          const book = await this.options.books.getOrderBook(symbol, 1);
          const b = bestOf(book);
          const key = `${b.bidPrice}|${b.bidQty}|${b.askPrice}|${b.askQty}`;
          if (key === s.last) continue;
          s.last = key;
          this.options.hub.publish(`${symbol.toLowerCase()}@bookTicker`, {
            u: Number(book.lastUpdateId),
            s: symbol,
            b: price(spec, b.bidPrice),
            B: qty(spec, b.bidQty),
            a: price(spec, b.askPrice),
            A: qty(spec, b.askQty),
          });
        } while (s.again);
      } catch (error) {
        this.options.logger.debug({ err: error, symbol }, "bookTicker refresh failed");
      } finally {
        s.inFlight = false;
      }
    };
    void run();
  }

  private async tickers(): Promise<void> {
    const symbols = [...this.tickerDirty];
    this.tickerDirty.clear();
    await Promise.all(
      symbols.map(async (symbol) => {
        const lower = symbol.toLowerCase();
        const feed = `${lower}@ticker`;
        const miniFeed = `${lower}@miniTicker`;
        const spec = this.spec(symbol);
        const full = this.options.hub.has(feed);
        const mini = this.options.hub.has(miniFeed);
        if (!spec || (!full && !mini)) return;
        // Only the full ticker carries the best bid/ask.
        let book: BookSnapshot | undefined;
        if (full) {
          try {
            book = await this.options.books.getOrderBook(symbol, 1);
          } catch {
            book = undefined;
          }
        }
        const now = this.now();
        const t = ticker24Json(spec, this.options.projector.state(symbol), bestOf(book), now);
        if (mini) {
          this.options.hub.publish(miniFeed, {
            e: "24hrMiniTicker",
            E: now,
            s: symbol,
            c: t.lastPrice,
            o: t.openPrice,
            h: t.highPrice,
            l: t.lowPrice,
            v: t.volume,
            q: t.quoteVolume,
          });
        }
        if (!full) return;
        this.options.hub.publish(feed, {
          e: "24hrTicker",
          E: now,
          s: symbol,
          p: t.priceChange,
          P: t.priceChangePercent,
          w: t.weightedAvgPrice,
          x: t.prevClosePrice,
          c: t.lastPrice,
          Q: t.lastQty,
          b: t.bidPrice,
          B: t.bidQty,
          a: t.askPrice,
          A: t.askQty,
          o: t.openPrice,
          h: t.highPrice,
          l: t.lowPrice,
          v: t.volume,
          q: t.quoteVolume,
          O: t.openTime,
          C: t.closeTime,
          F: t.firstId,
          L: t.lastId,
          n: t.count,
        });
      }),
    );
  }
}
