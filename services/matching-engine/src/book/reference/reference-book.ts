/**
 * The reference book: the oracle of the tests. Obviously right rather than fast — plain arrays,
 * linear scans, BigInt notionals, depth deltas computed by diffing the aggregated book before and
 * after each command. It implements exactly the semantics documented in ../types.ts and README.md.
 */
import {
  type MarketFilters,
  type MarketSpec,
  MarketStatus,
  OrderStatus,
  OrderType,
  type Side,
  Stp,
  type TimeInForce,
} from "@excraft/domain";
import {
  BUY,
  isLimitLike,
  isStop,
  PlainView,
  priceOk,
  QUOTE_CAP,
  qtyOk,
  resolveStp,
  SELL,
  stopTriggers,
  validatePlace,
} from "../common.ts";
import {
  type BookSink,
  type BookSnapshot,
  type CancelCommand,
  CancelReason,
  type DepthBuffer,
  ExpireReason,
  type LevelRecord,
  type OrderBook,
  type OrderRecord,
  type PlaceCommand,
  RejectReason,
  type ReplaceCommand,
} from "../types.ts";

interface ROrder {
  orderId: number;
  account: number;
  clientOrderId: string;
  side: Side;
  type: OrderType;
  timeInForce: TimeInForce;
  price: number;
  quantity: number;
  filled: number;
  quote: bigint;
  status: OrderStatus;
  stopPrice: number;
  stp: Stp;
  quoteOrderQty: number;
  reserved: number;
  created: number;
  seq: number;
  leaves: number;
}

const MAX = BigInt(Number.MAX_SAFE_INTEGER);

export class ReferenceBook implements OrderBook {
  private readonly s: MarketSpec;
  private resting: ROrder[] = [];
  private stops: ROrder[] = [];
  private nextSeq = 1;
  private lastTradeId = 0;
  private lastUpdateId = 0;
  private last = 0;

  constructor(
    readonly marketId: number,
    spec: MarketSpec,
    private readonly sink: BookSink,
  ) {
    this.s = { ...spec };
  }

  get spec(): Readonly<MarketSpec> {
    return this.s;
  }

  static restore(snap: BookSnapshot, sink: BookSink): ReferenceBook {
    const b = new ReferenceBook(snap.marketId, snap.spec, sink);
    b.nextSeq = snap.nextSeq;
    b.lastTradeId = snap.lastTradeId;
    b.lastUpdateId = snap.lastUpdateId;
    b.last = snap.lastPrice;
    const conv = (r: OrderRecord): ROrder => ({
      orderId: r.orderId,
      account: r.account,
      clientOrderId: r.clientOrderId,
      side: r.side,
      type: r.type,
      timeInForce: r.timeInForce,
      price: r.price,
      quantity: r.quantity,
      filled: r.filledQuantity,
      quote: BigInt(r.filledQuote),
      status: r.status,
      stopPrice: r.stopPrice,
      stp: r.stp,
      quoteOrderQty: r.quoteOrderQty,
      reserved: r.reserved,
      created: r.createdTimeMs,
      seq: r.seq,
      leaves: r.leaves,
    });
    b.resting = snap.resting.map(conv);
    b.stops = snap.stops.map(conv);
    return b;
  }

  // ------------------------------------------------------------------ commands

  place(c: PlaceCommand, t: number): void {
    const before = this.aggregate();
    this.doPlace(c, t);
    this.runTriggers(t);
    this.emitDepth(before);
  }

  private doPlace(c: PlaceCommand, t: number): void {
    let reason = validatePlace(this.s.status, this.s, c);
    if (reason === null) reason = this.stateChecks(c);
    if (reason !== null) {
      this.sink.rejected(this.marketId, new PlainView().fromPlace(c, t), reason);
      return;
    }
    const o: ROrder = {
      orderId: c.orderId,
      account: c.account,
      clientOrderId: c.clientOrderId,
      side: c.side,
      type: c.type,
      timeInForce: c.timeInForce,
      price: c.price,
      quantity: c.quantity,
      filled: 0,
      quote: 0n,
      status: isStop(c.type) ? OrderStatus.PENDING_NEW : OrderStatus.NEW,
      stopPrice: c.stopPrice,
      stp: resolveStp(c.stp, this.s.defaultStp),
      quoteOrderQty: c.quoteOrderQty,
      reserved: c.reserved,
      created: t,
      seq: 0,
      leaves: c.quantity,
    };
    this.sink.accepted(this.marketId, view(o));
    if (isStop(c.type)) {
      o.seq = this.nextSeq++;
      this.stops.push(o);
      return;
    }
    this.execute(o);
  }

  private stateChecks(c: PlaceCommand): RejectReason | null {
    if (this.findById(c.orderId) !== undefined) return RejectReason.DUPLICATE_ORDER_ID;
    if (c.clientOrderId !== "" && this.findByCid(c.account, c.clientOrderId) !== undefined)
      return RejectReason.DUPLICATE_CLIENT_ORDER_ID;
    if (c.type === OrderType.LIMIT_MAKER && this.wouldTake(c.side, c.price)) return RejectReason.WOULD_TAKE;
    if (isStop(c.type) && stopTriggers(c.type, c.side, c.stopPrice, this.last))
      return RejectReason.WOULD_TRIGGER_IMMEDIATELY;
    if (
      (c.type === OrderType.LIMIT || c.type === OrderType.LIMIT_MAKER) &&
      this.levelQty(c.side, c.price) + BigInt(c.quantity) > MAX
    )
      return RejectReason.LEVEL_OVERFLOW;
    return null;
  }

  cancel(c: CancelCommand, t: number): void {
    const before = this.aggregate();
    const o = this.find(c.account, c.orderId, c.clientOrderId);
    if (o === undefined) {
      this.sink.rejected(
        this.marketId,
        new PlainView().fromRef(c.account, c.orderId, c.clientOrderId, t),
        RejectReason.UNKNOWN_ORDER,
      );
    } else {
      this.remove(o);
      o.status = OrderStatus.CANCELED;
      this.sink.cancelled(this.marketId, view(o), CancelReason.USER);
    }
    this.emitDepth(before);
  }

  replace(c: ReplaceCommand, t: number): void {
    const before = this.aggregate();
    const r = this.doReplace(c, t);
    if (r !== null)
      this.sink.rejected(this.marketId, new PlainView().fromRef(c.account, c.orderId, c.clientOrderId, t), r);
    this.runTriggers(t);
    this.emitDepth(before);
  }

  private doReplace(c: ReplaceCommand, t: number): RejectReason | null {
    if (this.s.status === MarketStatus.HALT) return RejectReason.MARKET_HALTED;
    if (this.s.status === MarketStatus.BREAK) return RejectReason.MARKET_CLOSED;
    const o = this.find(c.account, c.orderId, c.clientOrderId);
    if (o === undefined) return RejectReason.UNKNOWN_ORDER;
    if (!this.resting.includes(o)) return RejectReason.NOT_REPLACEABLE;
    const price = c.newPrice === 0 ? o.price : c.newPrice;
    const qty = c.newQuantity === 0 ? o.leaves : c.newQuantity;
    if (!priceOk(this.s, price)) return RejectReason.PRICE_FILTER;
    if (!qtyOk(this.s, qty)) return RejectReason.LOT_SIZE;
    if (BigInt(price) * BigInt(qty) < BigInt(this.s.minNotional)) return RejectReason.MIN_NOTIONAL;
    if (BigInt(price) * BigInt(qty) > 2n ** 63n - 1n) return RejectReason.MAX_NOTIONAL;
    const id = c.newOrderId === 0 ? o.orderId : c.newOrderId;
    if (id !== o.orderId) {
      if (!Number.isSafeInteger(id) || id <= 0) return RejectReason.INVALID_ORDER_ID;
      if (this.findById(id) !== undefined) return RejectReason.DUPLICATE_ORDER_ID;
    }
    const cid = c.newClientOrderId === "" ? o.clientOrderId : c.newClientOrderId;
    if (cid !== o.clientOrderId && this.findByCid(o.account, cid) !== undefined)
      return RejectReason.DUPLICATE_CLIENT_ORDER_ID;
    const kept = price === o.price && qty <= o.leaves;
    if (!kept) {
      if (o.type === OrderType.LIMIT_MAKER && this.wouldTake(o.side, price)) return RejectReason.WOULD_TAKE;
      const sameLevel = price === o.price ? BigInt(o.leaves) : 0n;
      if (this.levelQty(o.side, price) - sameLevel + BigInt(qty) > MAX) return RejectReason.LEVEL_OVERFLOW;
    }
    const oldView = view({ ...o, status: OrderStatus.CANCELED });
    if (kept) {
      o.orderId = id;
      o.clientOrderId = cid;
      o.quantity = qty;
      o.leaves = qty;
      o.filled = 0;
      o.quote = 0n;
      o.status = OrderStatus.NEW;
      this.sink.replaced(this.marketId, oldView, view(o), true);
      return null;
    }
    this.remove(o);
    const n: ROrder = {
      ...o,
      orderId: id,
      clientOrderId: cid,
      price,
      quantity: qty,
      leaves: qty,
      filled: 0,
      quote: 0n,
      status: OrderStatus.NEW,
      created: t,
      seq: 0,
    };
    this.sink.replaced(this.marketId, oldView, view(n), false);
    this.execute(n);
    return null;
  }

  massCancel(account: number, _t: number): void {
    const before = this.aggregate();
    const mine = this.openById().filter((o) => o.account === account);
    for (const o of mine) {
      this.remove(o);
      o.status = OrderStatus.CANCELED;
      this.sink.cancelled(this.marketId, view(o), CancelReason.MASS_CANCEL);
    }
    this.emitDepth(before);
  }

  setStatus(status: MarketStatus, _t: number): void {
    const before = this.aggregate();
    if (status === MarketStatus.BREAK && this.s.status !== MarketStatus.BREAK) {
      for (const o of this.openById()) {
        this.remove(o);
        o.status = OrderStatus.CANCELED;
        this.sink.cancelled(this.marketId, view(o), CancelReason.MARKET_CLOSED);
      }
    }
    this.s.status = status;
    this.emitDepth(before);
  }

  updateFilters(f: MarketFilters): void {
    this.s.tickSize = f.tickSize;
    this.s.stepSize = f.stepSize;
    this.s.minQty = f.minQty;
    this.s.maxQty = f.maxQty;
    this.s.minPrice = f.minPrice;
    this.s.maxPrice = f.maxPrice;
    this.s.minNotional = f.minNotional;
  }

  // ------------------------------------------------------------------ matching

  /** Runs an accepted (or triggered, or re-entering) order: FOK check, match, then rest or expire. */
  private execute(o: ROrder): void {
    const isMarket = !isLimitLike(o.type);
    if (!isMarket && o.timeInForce === 3 && o.type !== OrderType.LIMIT_MAKER && !this.fokFillable(o)) {
      o.status = OrderStatus.EXPIRED;
      this.sink.expired(this.marketId, view(o), ExpireReason.FOK);
      return;
    }
    const byQuote = o.quoteOrderQty > 0;
    const hasBudget = byQuote || (isMarket && o.side === BUY && o.reserved > 0);
    let budget = BigInt(byQuote ? o.quoteOrderQty : o.reserved);
    let stoppedByBudget = false;
    let stoppedByCap = false;
    while (byQuote ? budget > 0n : o.leaves > 0) {
      const m = this.bestOpposite(o.side);
      if (m === undefined) break;
      if (!isMarket && (o.side === BUY ? m.price > o.price : m.price < o.price)) break;
      if (m.account === o.account && o.stp !== Stp.NONE) {
        if (o.stp === Stp.EXPIRE_MAKER || o.stp === Stp.EXPIRE_BOTH) {
          this.remove(m);
          m.status = OrderStatus.EXPIRED_IN_MATCH;
          this.sink.expired(this.marketId, view(m), ExpireReason.STP);
        }
        if (o.stp === Stp.EXPIRE_TAKER || o.stp === Stp.EXPIRE_BOTH) {
          o.status = OrderStatus.EXPIRED_IN_MATCH;
          this.sink.expired(this.marketId, view(o), ExpireReason.STP);
          return;
        }
        continue;
      }
      let q = byQuote ? m.leaves : Math.min(o.leaves, m.leaves);
      if (hasBudget) {
        let afford = budget / BigInt(m.price);
        afford -= afford % BigInt(this.s.stepSize);
        if (afford < BigInt(q)) q = Number(afford);
        if (q === 0) {
          stoppedByBudget = true;
          break;
        }
      }
      // The quote cap (common.ts QUOTE_CAP): cut the fill to the whole steps that fit; none → stop.
      if (o.quote + BigInt(m.price) * BigInt(q) > QUOTE_CAP) {
        let fits = (QUOTE_CAP - o.quote) / BigInt(m.price);
        fits -= fits % BigInt(this.s.stepSize);
        q = Number(fits);
        stoppedByCap = true;
        if (q === 0) break;
      }
      const n = BigInt(m.price) * BigInt(q);
      budget -= n;
      m.filled += q;
      m.leaves -= q;
      m.quote += n;
      m.status = m.leaves === 0 ? OrderStatus.FILLED : OrderStatus.PARTIALLY_FILLED;
      o.filled += q;
      if (!byQuote) o.leaves -= q;
      o.quote += n;
      const done = byQuote ? budget === 0n : o.leaves === 0;
      o.status = done ? OrderStatus.FILLED : OrderStatus.PARTIALLY_FILLED;
      if (m.leaves === 0) this.remove(m);
      this.last = m.price;
      this.sink.trade(this.marketId, ++this.lastTradeId, m.price, q, m.side === BUY, view(m), view(o));
    }
    const unfinished = byQuote ? budget > 0n : o.leaves > 0;
    if (!unfinished) return;
    if (stoppedByCap) {
      o.status = OrderStatus.EXPIRED;
      this.sink.expired(this.marketId, view(o), ExpireReason.MAX_NOTIONAL);
    } else if (isMarket) {
      o.status = OrderStatus.EXPIRED;
      this.sink.expired(
        this.marketId,
        view(o),
        stoppedByBudget ? ExpireReason.BUDGET : ExpireReason.NO_LIQUIDITY,
      );
    } else if (o.type === OrderType.LIMIT_MAKER || o.timeInForce === 1) {
      if (o.quote + BigInt(o.price) * BigInt(o.leaves) > QUOTE_CAP) {
        // As a maker it fills at its limit price: that could take its quote past the cap.
        o.status = OrderStatus.EXPIRED;
        this.sink.expired(this.marketId, view(o), ExpireReason.MAX_NOTIONAL);
        return;
      }
      o.seq = this.nextSeq++;
      this.resting.push(o);
    } else {
      o.status = OrderStatus.EXPIRED;
      this.sink.expired(this.marketId, view(o), o.timeInForce === 3 ? ExpireReason.FOK : ExpireReason.IOC);
    }
  }

  /**
   * A FOK order fills completely iff walking the book in priority order (skipping makers STP would
   * expire) covers it, with a quote (Σ price × quantity) within the cap.
   */
  private fokFillable(o: ROrder): boolean {
    let need = o.leaves;
    let quote = 0n;
    for (const m of this.oppositeSorted(o.side)) {
      if (o.side === BUY ? m.price > o.price : m.price < o.price) return false;
      if (m.account === o.account && o.stp !== Stp.NONE) {
        if (o.stp === Stp.EXPIRE_MAKER) continue;
        return false;
      }
      const q = Math.min(need, m.leaves);
      need -= q;
      quote += BigInt(m.price) * BigInt(q);
      if (need === 0) return quote <= QUOTE_CAP; // and within the quote cap
    }
    return false;
  }

  private runTriggers(_t: number): void {
    for (;;) {
      let best: ROrder | undefined;
      for (const s of this.stops) {
        if (stopTriggers(s.type, s.side, s.stopPrice, this.last) && (best === undefined || s.seq < best.seq))
          best = s;
      }
      if (best === undefined) return;
      this.stops.splice(this.stops.indexOf(best), 1);
      best.status = OrderStatus.NEW;
      best.seq = 0;
      this.sink.triggered(this.marketId, view(best), this.last);
      this.execute(best);
    }
  }

  // ------------------------------------------------------------------ helpers

  private priorityCmp(a: ROrder, b: ROrder): number {
    if (a.price !== b.price) return a.side === BUY ? b.price - a.price : a.price - b.price;
    return a.seq - b.seq;
  }

  private oppositeSorted(side: Side): ROrder[] {
    const other = side === BUY ? SELL : BUY;
    return this.resting.filter((o) => o.side === other).sort((a, b) => this.priorityCmp(a, b));
  }

  private bestOpposite(side: Side): ROrder | undefined {
    return this.oppositeSorted(side)[0];
  }

  private wouldTake(side: Side, price: number): boolean {
    const m = this.bestOpposite(side);
    return m !== undefined && (side === BUY ? m.price <= price : m.price >= price);
  }

  private levelQty(side: Side, price: number): bigint {
    let q = 0n;
    for (const o of this.resting) if (o.side === side && o.price === price) q += BigInt(o.leaves);
    return q;
  }

  private openSorted(): ROrder[] {
    return [...this.resting, ...this.stops].sort((a, b) => a.seq - b.seq);
  }

  private openById(): ROrder[] {
    return [...this.resting, ...this.stops].sort((a, b) => a.orderId - b.orderId);
  }

  private findById(id: number): ROrder | undefined {
    return this.resting.find((o) => o.orderId === id) ?? this.stops.find((o) => o.orderId === id);
  }

  private findByCid(account: number, cid: string): ROrder | undefined {
    const f = (o: ROrder) => o.account === account && o.clientOrderId === cid;
    return this.resting.find(f) ?? this.stops.find(f);
  }

  private find(account: number, orderId: number, cid: string): ROrder | undefined {
    const o = orderId !== 0 ? this.findById(orderId) : cid !== "" ? this.findByCid(account, cid) : undefined;
    return o !== undefined && o.account === account ? o : undefined;
  }

  private remove(o: ROrder): void {
    let i = this.resting.indexOf(o);
    if (i >= 0) this.resting.splice(i, 1);
    i = this.stops.indexOf(o);
    if (i >= 0) this.stops.splice(i, 1);
  }

  private aggregate(): Map<string, number> {
    const m = new Map<string, number>();
    for (const o of this.resting) {
      const k = `${o.side}:${o.price}`;
      m.set(k, (m.get(k) ?? 0) + o.leaves);
    }
    return m;
  }

  private emitDepth(before: Map<string, number>): void {
    const after = this.aggregate();
    const keys = new Set([...before.keys(), ...after.keys()]);
    const bids: [number, number][] = [];
    const asks: [number, number][] = [];
    for (const k of keys) {
      const a = after.get(k) ?? 0;
      if (a === (before.get(k) ?? 0)) continue;
      const [side, price] = k.split(":").map(Number) as [number, number];
      (side === BUY ? bids : asks).push([price, a]);
    }
    const n = bids.length + asks.length;
    if (n === 0) return;
    bids.sort((x, y) => y[0] - x[0]);
    asks.sort((x, y) => x[0] - y[0]);
    const buf = (l: [number, number][]): DepthBuffer => ({
      prices: Float64Array.from(l.map((x) => x[0])),
      quantities: Float64Array.from(l.map((x) => x[1])),
      count: l.length,
    });
    const first = this.lastUpdateId + 1;
    this.lastUpdateId += n;
    this.sink.depth(this.marketId, first, this.lastUpdateId, buf(bids), buf(asks));
  }

  // ------------------------------------------------------------------ queries

  bestBid(): number {
    return this.resting.filter((o) => o.side === BUY).reduce((m, o) => Math.max(m, o.price), 0);
  }
  bestAsk(): number {
    return this.resting
      .filter((o) => o.side === SELL)
      .reduce((m, o) => (m === 0 ? o.price : Math.min(m, o.price)), 0);
  }
  lastPrice(): number {
    return this.last;
  }
  levels(side: Side, max = Number.POSITIVE_INFINITY): LevelRecord[] {
    const m = new Map<number, LevelRecord>();
    for (const o of this.resting) {
      if (o.side !== side) continue;
      const l = m.get(o.price) ?? { price: o.price, quantity: 0, orders: 0 };
      l.quantity += o.leaves;
      l.orders++;
      m.set(o.price, l);
    }
    return [...m.values()]
      .sort((a, b) => (side === BUY ? b.price - a.price : a.price - b.price))
      .slice(0, max);
  }
  openOrders(): OrderRecord[] {
    return this.openSorted().map(record);
  }
  getOrder(orderId: number): OrderRecord | undefined {
    const o = this.findById(orderId);
    return o === undefined ? undefined : record(o);
  }
  openOrderCount(): number {
    return this.resting.length + this.stops.length;
  }
  snapshot(): BookSnapshot {
    const bySeq = (a: ROrder, b: ROrder) => a.seq - b.seq;
    return {
      version: 1,
      marketId: this.marketId,
      spec: { ...this.s },
      nextSeq: this.nextSeq,
      lastTradeId: this.lastTradeId,
      lastUpdateId: this.lastUpdateId,
      lastPrice: this.last,
      resting: [...this.resting].sort(bySeq).map(record),
      stops: [...this.stops].sort(bySeq).map(record),
    };
  }
}

function view(o: ROrder): PlainView {
  const v = new PlainView();
  v.orderId = o.orderId;
  v.account = o.account;
  v.clientOrderId = o.clientOrderId;
  v.side = o.side;
  v.type = o.type;
  v.timeInForce = o.timeInForce;
  v.price = o.price;
  v.quantity = o.quantity;
  v.filledQuantity = o.filled;
  v.status = o.status;
  v.stopPrice = o.stopPrice;
  v.stp = o.stp;
  v.quoteOrderQty = o.quoteOrderQty;
  v.createdTimeMs = o.created;
  v.quote = o.quote;
  return v;
}

function record(o: ROrder): OrderRecord {
  return {
    orderId: o.orderId,
    account: o.account,
    clientOrderId: o.clientOrderId,
    side: o.side,
    type: o.type,
    timeInForce: o.timeInForce,
    price: o.price,
    quantity: o.quantity,
    filledQuantity: o.filled,
    filledQuote: o.quote.toString(),
    status: o.status,
    stopPrice: o.stopPrice,
    stp: o.stp,
    quoteOrderQty: o.quoteOrderQty,
    reserved: o.reserved,
    createdTimeMs: o.created,
    seq: o.seq,
    leaves: o.leaves,
  };
}
