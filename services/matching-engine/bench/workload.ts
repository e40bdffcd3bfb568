/**
 * Pre-generated command streams in the manner of exchange-core's benchmarks: a generator drives a
 * real book (so cancels and moves target live orders) and records compact typed-array commands.
 * Mix: 9% GTC limit, 3% IOC limit, 6% cancel, 82% move (cancel-replace to a new price).
 * The first `prefill` commands are GTC orders that build the book; they are replayed untimed.
 */

import type { MarketSpec } from "@excraft/domain";
import { mulberry32 } from "@excraft/testkit";
import { FastBook } from "../src/book/fast-book.ts";
import type { BookSink, DepthBuffer, OrderView } from "../src/book/types.ts";

export const OP_GTC = 0;
export const OP_IOC = 1;
export const OP_CANCEL = 2;
export const OP_MOVE = 3;

export interface Workload {
  name: string;
  markets: number;
  accounts: number;
  symbols: string[];
  specs: MarketSpec[];
  n: number;
  prefill: number;
  op: Uint8Array;
  mkt: Int32Array;
  id: Float64Array;
  acc: Int32Array;
  side: Uint8Array;
  price: Float64Array;
  qty: Float64Array;
  /** Indexed by order id. */
  idStr: string[];
  cidStr: string[];
  stats: {
    restingAvg: number; // sampled while generating, in the market being commanded
    levelsAvg: number;
    restingTotalEnd: number; // all markets, at the end of the stream
    levelsTotalEnd: number;
    busiestMarketShare: number; // share of commands of the most active market
    mix: Record<string, number>;
    trades: number;
  };
}

export function marketSpec(symbol: string): MarketSpec {
  return {
    symbol,
    baseAsset: symbol.slice(0, 3),
    quoteAsset: "USDT",
    priceScale: 2,
    quantityScale: 4,
    tickSize: 1,
    stepSize: 1,
    minQty: 1,
    maxQty: 0,
    minPrice: 0,
    maxPrice: 0,
    minNotional: 0,
    status: 1,
    defaultStp: 1, // NONE: the benchmark's accounts may self-trade, as in exchange-core
  };
}

/** Live orders of one market: O(1) random pick and removal. */
class Live {
  ids: number[] = [];
  price: number[] = [];
  side: number[] = [];
  acc: number[] = [];
  pos = new Map<number, number>();
  add(id: number, price: number, side: number, acc: number): void {
    this.pos.set(id, this.ids.length);
    this.ids.push(id);
    this.price.push(price);
    this.side.push(side);
    this.acc.push(acc);
  }
  remove(id: number): void {
    const i = this.pos.get(id);
    if (i === undefined) return;
    const last = this.ids.length - 1;
    if (i !== last) {
      this.ids[i] = this.ids[last]!;
      this.price[i] = this.price[last]!;
      this.side[i] = this.side[last]!;
      this.acc[i] = this.acc[last]!;
      this.pos.set(this.ids[i]!, i);
    }
    this.ids.pop();
    this.price.pop();
    this.side.pop();
    this.acc.pop();
    this.pos.delete(id);
  }
}

/** Tracks which orders left the book while generating. */
class TrackSink implements BookSink {
  lives: Live[] = [];
  takerOpen = true;
  trades = 0;
  accepted(): void {}
  rejected(_m: number, o: OrderView, reason: string): void {
    throw new Error(`generator produced a rejected command: ${reason} for order ${o.orderId}`);
  }
  trade(
    m: number,
    _id: number,
    _p: number,
    _q: number,
    _b: boolean,
    maker: OrderView,
    taker: OrderView,
  ): void {
    this.trades++;
    if (maker.status === 3) this.lives[m]!.remove(maker.orderId);
    if (taker.status === 3) this.takerOpen = false;
  }
  cancelled(m: number, o: OrderView): void {
    this.lives[m]!.remove(o.orderId);
  }
  expired(m: number, o: OrderView): void {
    this.takerOpen = false;
    this.lives[m]!.remove(o.orderId);
  }
  replaced(): void {}
  triggered(): void {}
  depth(_m: number, _f: number, _l: number, _b: DepthBuffer, _a: DepthBuffer): void {}
}

export interface GenOptions {
  name: string;
  markets: number;
  accounts: number;
  restingPerMarket: number; // target resting orders per market (average when weighted)
  /**
   * How activity spreads over markets: "uniform", or "pareto" — exchange-core's
   * createWeightedDistribution (Pareto scale 0.001, shape 1.5, normalised) for both the command
   * share and the resting-order target of each market.
   */
  weights?: "uniform" | "pareto";
  spreadTicks: number; // how far from the touch passive orders go (controls the number of levels)
  commands: number; // measured commands (after the prefill)
  seed: number;
  progress?: (msg: string) => void;
}

export function generate(o: GenOptions): Workload {
  const rand = mulberry32(o.seed);
  // Per-market weights and resting-order targets.
  const weights = new Float64Array(o.markets).fill(1 / o.markets);
  if (o.weights === "pareto" && o.markets > 1) {
    const wr = mulberry32(o.seed ^ 0x5bd1e995);
    let sum = 0;
    for (let m = 0; m < o.markets; m++) {
      weights[m] = 0.001 / (1 - wr()) ** (1 / 1.5); // inverse CDF of Pareto(scale 0.001, shape 1.5)
      sum += weights[m]!;
    }
    for (let m = 0; m < o.markets; m++) weights[m] = weights[m]! / sum;
  }
  const cum = new Float64Array(o.markets);
  let acc0 = 0;
  for (let m = 0; m < o.markets; m++) {
    acc0 += weights[m]!;
    cum[m] = acc0;
  }
  const pickMarket = (): number => {
    const r = rand() * acc0;
    let lo = 0;
    let hi = o.markets - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cum[mid]! < r) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const targets = Array.from({ length: o.markets }, (_, m) =>
    Math.max(2, Math.round(weights[m]! * o.markets * o.restingPerMarket)),
  );
  const prefillMarkets: number[] = [];
  for (let m = 0; m < o.markets; m++) for (let k = 0; k < targets[m]!; k++) prefillMarkets.push(m);
  for (let i = prefillMarkets.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const x = prefillMarkets[i]!;
    prefillMarkets[i] = prefillMarkets[j]!;
    prefillMarkets[j] = x;
  }
  const prefill = prefillMarkets.length;
  const n = prefill + o.commands;
  const w: Workload = {
    name: o.name,
    markets: o.markets,
    accounts: o.accounts,
    symbols: [],
    specs: [],
    n,
    prefill,
    op: new Uint8Array(n),
    mkt: new Int32Array(n),
    id: new Float64Array(n),
    acc: new Int32Array(n),
    side: new Uint8Array(n),
    price: new Float64Array(n),
    qty: new Float64Array(n),
    idStr: [""],
    cidStr: [""],
    stats: {
      restingAvg: 0,
      levelsAvg: 0,
      restingTotalEnd: 0,
      levelsTotalEnd: 0,
      busiestMarketShare: 0,
      mix: {},
      trades: 0,
    },
  };
  const sink = new TrackSink();
  const books: FastBook[] = [];
  for (let m = 0; m < o.markets; m++) {
    const sym = `M${String(m).padStart(4, "0")}USDT`;
    w.symbols.push(sym);
    const spec = marketSpec(sym);
    w.specs.push(spec);
    books.push(new FastBook(m, spec, sink, { initialOrders: Math.min(4096, targets[m]! * 2) }));
    sink.lives.push(new Live());
  }
  const MID = 1_000_000;
  let nextId = 1;
  const counts = [0, 0, 0, 0];
  let restingSum = 0;
  let levelsSum = 0;
  let samples = 0;
  const place = {
    orderId: 0,
    account: 0,
    clientOrderId: "",
    side: 1 as 1 | 2,
    type: 1 as const,
    timeInForce: 1 as 1 | 2,
    price: 0,
    quantity: 0,
    quoteOrderQty: 0,
    stopPrice: 0,
    stp: 0 as const,
    reserved: 0,
  };
  const repl = {
    account: 0,
    orderId: 0,
    clientOrderId: "",
    newOrderId: 0,
    newClientOrderId: "",
    newPrice: 0,
    newQuantity: 0,
  };
  const cancel = { account: 0, orderId: 0, clientOrderId: "" };

  for (let i = 0; i < n; i++) {
    if (o.progress && i > 0 && i % 500_000 === 0) o.progress(`  generating ${w.name}: ${i}/${n}`);
    const m = o.markets === 1 ? 0 : i < prefill ? prefillMarkets[i]! : pickMarket();
    const b = books[m]!;
    const live = sink.lives[m]!;
    const bid = b.bestBid();
    const ask = b.bestAsk();
    const mid = bid !== 0 && ask !== 0 ? (bid + ask) / 2 : bid !== 0 ? bid + 1 : ask !== 0 ? ask - 1 : MID;
    const over = live.ids.length > targets[m]!;
    let op: number;
    if (i < prefill) op = OP_GTC;
    else {
      const r = rand();
      op = r < 0.09 ? OP_GTC : r < 0.12 ? OP_IOC : r < 0.18 ? OP_CANCEL : OP_MOVE;
      if ((op === OP_CANCEL || op === OP_MOVE) && live.ids.length === 0) op = OP_GTC;
    }
    counts[op]!++;
    w.op[i] = op;
    w.mkt[i] = m;
    sink.takerOpen = true;
    if (op === OP_GTC || op === OP_IOC) {
      const id = nextId++;
      const side = rand() < 0.5 ? 1 : 2;
      const acc = Math.floor(rand() * o.accounts);
      let price: number;
      let qty: number;
      if (op === OP_GTC) {
        const aggressive = i >= prefill && rand() < (over ? 0.3 : 0.05);
        const off = aggressive ? -Math.floor(rand() * 3) : 1 + Math.floor(rand() * rand() * o.spreadTicks);
        price = side === 1 ? Math.floor(mid) - off : Math.ceil(mid) + off;
        qty = 1 + Math.floor(rand() * 100);
      } else {
        const opp = side === 1 ? ask : bid;
        const base = opp === 0 ? Math.round(mid) : opp;
        price = side === 1 ? base + Math.floor(rand() * 3) : base - Math.floor(rand() * 3);
        qty = 1 + Math.floor(rand() * (over ? 200 : 40));
      }
      if (price < 1) price = 1;
      w.id[i] = id;
      w.acc[i] = acc;
      w.side[i] = side;
      w.price[i] = price;
      w.qty[i] = qty;
      w.idStr[id] = String(id);
      w.cidStr[id] = op === OP_GTC ? `c-${id}` : "";
      place.orderId = id;
      place.account = acc;
      place.clientOrderId = w.cidStr[id]!;
      place.side = side as 1 | 2;
      place.timeInForce = op === OP_GTC ? 1 : 2;
      place.price = price;
      place.quantity = qty;
      b.place(place, i);
      if (op === OP_GTC && sink.takerOpen) live.add(id, price, side, acc);
    } else {
      const k = Math.floor(rand() * live.ids.length);
      const id = live.ids[k]!;
      w.id[i] = id;
      w.acc[i] = live.acc[k]!;
      w.side[i] = live.side[k]!;
      if (op === OP_CANCEL) {
        cancel.account = live.acc[k]!;
        cancel.orderId = id;
        b.cancel(cancel, i);
      } else {
        const old = live.price[k]!;
        const side = live.side[k]!;
        const towardMid = rand() < (over ? 0.75 : 0.4);
        const d = 1 + Math.floor(rand() * 8);
        const up = side === 1 ? towardMid : !towardMid;
        let price = up ? old + d : old - d;
        if (price < 1) price = old + d;
        w.price[i] = price;
        repl.account = live.acc[k]!;
        repl.orderId = id;
        repl.newPrice = price;
        b.replace(repl, i);
        if (sink.takerOpen) live.price[live.pos.get(id)!] = price;
        else live.remove(id);
      }
    }
    if (i >= prefill && i % 997 === 0) {
      samples++;
      restingSum += b.openOrderCount();
      levelsSum += b.levels(1).length + b.levels(2).length;
    }
  }
  let restingTotalEnd = 0;
  let levelsTotalEnd = 0;
  for (const b of books) {
    restingTotalEnd += b.openOrderCount();
    levelsTotalEnd += b.levels(1).length + b.levels(2).length;
  }
  w.stats = {
    restingAvg: Math.round(restingSum / Math.max(1, samples)),
    levelsAvg: Math.round(levelsSum / Math.max(1, samples)),
    restingTotalEnd,
    levelsTotalEnd,
    busiestMarketShare: Number(Math.max(...weights).toFixed(4)),
    mix: {
      gtc: counts[0]! - prefill,
      ioc: counts[1]!,
      cancel: counts[2]!,
      move: counts[3]!,
    },
    trades: sink.trades,
  };
  return w;
}
