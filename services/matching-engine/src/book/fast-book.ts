/**
 * The fast book. Same semantics as the reference book (the tests' oracle), built for the hot path:
 *
 * - Orders live in a pool of fixed 128-byte slots (one ArrayBuffer seen as Float64/Int32/Uint8
 *   arrays, two cache lines per order) with a free list: no object per order. Each price level is an
 *   intrusive doubly-linked FIFO of slots (O_NEXT/O_PREV) → O(1) cancel.
 * - Price levels live in a pool of 64-byte records; each side keeps a sorted Float64Array of keys
 *   (bid: price, ask: −price) so the best level is the LAST element (cached on the book with its
 *   price). Joining an existing level is a hash lookup ((price, market) → bid and ask level); a new
 *   best level is appended, any other new level waits in a pending list through the level records
 *   and is merged in when the side is next walked in price order; emptied levels stay in place
 *   (lazily reused / compacted).
 * - order id → slot (+ the order's level as a hint): IdIndex (open addressing). clientOrderId →
 *   slot: one Map per book with an intrusive chain for different accounts using the same
 *   clientOrderId. account → its orders: intrusive list, newest first (the Map holds the head).
 * - Pools, id and price indexes, scratch buffers and views live in a BookArena shared by every
 *   book of a shard, so thousands of markets do not multiply cold typed-array headers.
 * - With many books the pools outgrow the caches and a command is a chain of cache misses (index
 *   entry → order → level → …). Once the order pool is large the books load the lines a command
 *   will need early (prefetchRest, the level hint) so that the misses overlap, and the hot path
 *   avoids reading other heap objects (the spec's filters are copied onto the book; the old
 *   clientOrderId of a replace is read only when it changes).
 * - Pending stops: one intrusive list in seq order, with conservative trigger thresholds so a trade
 *   costs O(1) when no stop can trigger.
 * - Events go to a BookSink through flyweight views; depth deltas are collected per command in
 *   reusable typed buffers. No allocation on the hot path except amortised growth.
 */
import {
  type MarketFilters,
  type MarketSpec,
  MarketStatus,
  notionalAtLeast,
  notionalFitsInt64,
  OrderStatus,
  OrderType,
  type Side,
  Stp,
  type TimeInForce,
  WIDE_RADIX,
  wideToBigInt,
} from "@excraft/domain";
import {
  affordable,
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
} from "./common.ts";
import { IdIndex, LevelIndex } from "./id-index.ts";
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
  type OrderView,
  type PlaceCommand,
  RejectReason,
  type ReplaceCommand,
} from "./types.ts";

const NIL = -1;

// Order slot layout (128 bytes). Line 1: the fields matching touches; line 2: the rest.
const SLOT_BYTES = 128;
const O_ID = 0; // F
const O_PRICE = 1; // F
const O_LEAVES = 2; // F
const O_FILLED = 3; // F
const O_QLO = 4; // F
const O_ACC = 10; // I (double 5)
const O_NEXT = 11; // I
const O_PREV = 12; // I (double 6)
const O_LEVEL = 13; // I
const O_STATUS = 56; // U (double 7)
const O_SIDE = 57; // U
const O_TYPE = 58; // U
const O_TIF = 59; // U
const O_STP = 60; // U
const O_INDEXED = 61; // U
const O_QTY = 8; // F
const O_QHI = 9; // F
const O_STOP = 10; // F
const O_QUOTEQTY = 11; // F
const O_RESERVED = 12; // F
const O_CREATED = 13; // F
const O_SEQ = 14; // F
const O_ACCNEXT = 30; // I (double 15)
const O_ACCPREV = 31; // I
// Level layout (64 bytes).
const LEVEL_BYTES = 64;
const L_PRICE = 0; // LF
const L_QTY = 1; // LF
const L_STAMP = 2; // LF
const L_HEAD = 6; // LI (double 3)
const L_TAIL = 7; // LI
const L_COUNT = 8; // LI (double 4)
const L_SIDE = 9; // LI
const L_PNEXT = 10; // LI: next pending level of the side (see FastBook#rest)
const IN_STOPS = -2;
const MAX = Number.MAX_SAFE_INTEGER;
const WIDE_FAST = WIDE_RADIX; // products below 2^52 are added without BigInt
/**
 * Below this, a float estimate of an order's quote is certainly within QUOTE_CAP (2^63 − 1), so the
 * exact (BigInt) quote-cap check runs only for orders whose quote gets near it.
 */
const QUOTE_EXACT_FROM = 2 ** 62;
/**
 * Order-pool size from which the books load the lines a command will need early (see prefetchRest):
 * below it the pools stay in cache and the early loads are only extra work.
 */
const PREFETCH_BYTES = 4 << 20;

/** Live view of one pool slot (reads the arrays at call time). */
class SlotView implements OrderView {
  slot = 0;
  constructor(private readonly b: BookArena) {}
  get orderId(): number {
    return this.b.F[this.slot * 16 + O_ID]!;
  }
  get account(): number {
    return this.b.I[this.slot * 32 + O_ACC]!;
  }
  get clientOrderId(): string {
    return this.b.oCid[this.slot]!;
  }
  get side(): Side {
    return this.b.U[this.slot * 128 + O_SIDE] as Side;
  }
  get type(): OrderType {
    return this.b.U[this.slot * 128 + O_TYPE] as OrderType;
  }
  get timeInForce(): TimeInForce {
    return this.b.U[this.slot * 128 + O_TIF] as TimeInForce;
  }
  get price(): number {
    return this.b.F[this.slot * 16 + O_PRICE]!;
  }
  get quantity(): number {
    return this.b.F[this.slot * 16 + O_QTY]!;
  }
  get filledQuantity(): number {
    return this.b.F[this.slot * 16 + O_FILLED]!;
  }
  get status(): OrderStatus {
    return this.b.U[this.slot * 128 + O_STATUS] as OrderStatus;
  }
  get stopPrice(): number {
    return this.b.F[this.slot * 16 + O_STOP]!;
  }
  get stp(): Stp {
    return this.b.U[this.slot * 128 + O_STP] as Stp;
  }
  get quoteOrderQty(): number {
    return this.b.F[this.slot * 16 + O_QUOTEQTY]!;
  }
  get createdTimeMs(): number {
    return this.b.F[this.slot * 16 + O_CREATED]!;
  }
  filledQuote(): bigint {
    return wideToBigInt(this.b.F[this.slot * 16 + O_QHI]!, this.b.F[this.slot * 16 + O_QLO]!);
  }
}

/**
 * The "old order" of a replace, whose slot is then rewritten by the new order: copies the fields a
 * replace changes and reads the others (identical for both) from the slot.
 */
class OldView implements OrderView {
  slot = 0;
  orderId = 0;
  /** Set when the replace changes the clientOrderId; otherwise the slot still holds the old one. */
  private cidChanged = false;
  private oldCid = "";
  price = 0;
  quantity = 0;
  filledQuantity = 0;
  status: OrderStatus = OrderStatus.CANCELED;
  createdTimeMs = 0;
  qhi = 0;
  qlo = 0;
  constructor(private readonly b: BookArena) {}
  get clientOrderId(): string {
    return this.cidChanged ? this.oldCid : this.b.oCid[this.slot]!;
  }
  get account(): number {
    return this.b.I[this.slot * 32 + O_ACC]!;
  }
  get side(): Side {
    return this.b.U[this.slot * 128 + O_SIDE] as Side;
  }
  get type(): OrderType {
    return this.b.U[this.slot * 128 + O_TYPE] as OrderType;
  }
  get timeInForce(): TimeInForce {
    return this.b.U[this.slot * 128 + O_TIF] as TimeInForce;
  }
  get stopPrice(): number {
    return this.b.F[this.slot * 16 + O_STOP]!;
  }
  get stp(): Stp {
    return this.b.U[this.slot * 128 + O_STP] as Stp;
  }
  get quoteOrderQty(): number {
    return this.b.F[this.slot * 16 + O_QUOTEQTY]!;
  }
  filledQuote(): bigint {
    return wideToBigInt(this.qhi, this.qlo);
  }
  /** The slot is about to get a new clientOrderId: keep the old one for the view. */
  keepCid(cid: string): void {
    this.cidChanged = true;
    this.oldCid = cid;
  }
  copy(s: number): void {
    const b = this.b;
    this.slot = s;
    this.orderId = b.F[s * 16 + O_ID]!;
    this.cidChanged = false;
    this.price = b.F[s * 16 + O_PRICE]!;
    this.quantity = b.F[s * 16 + O_QTY]!;
    this.filledQuantity = b.F[s * 16 + O_FILLED]!;
    this.status = b.U[s * 128 + O_STATUS] as OrderStatus;
    this.createdTimeMs = b.F[s * 16 + O_CREATED]!;
    this.qhi = b.F[s * 16 + O_QHI]!;
    this.qlo = b.F[s * 16 + O_QLO]!;
  }
}

/** One side's levels in price order: sorted keys (ascending; best = last) and their levels. */
class SideBook {
  keys: Float64Array;
  lvls: Int32Array;
  n = 0;
  constructor(cap: number) {
    this.keys = new Float64Array(cap);
    this.lvls = new Int32Array(cap);
  }
  /** A new best level. */
  append(key: number, lvl: number): void {
    if (this.n === this.keys.length) this.grow(this.n * 2);
    this.keys[this.n] = key;
    this.lvls[this.n++] = lvl;
  }
  /** Merges m pairs sorted by key (all below the best) in, from the back. */
  mergeSorted(pk: Float64Array, pl: Int32Array, m: number): void {
    if (this.n + m > this.keys.length) this.grow((this.n + m) * 2);
    const keys = this.keys;
    const lvls = this.lvls;
    let i = this.n - 1;
    let j = m - 1;
    for (let w = this.n + m - 1; j >= 0; w--) {
      if (i >= 0 && keys[i]! > pk[j]!) {
        keys[w] = keys[i]!;
        lvls[w] = lvls[i--]!;
      } else {
        keys[w] = pk[j]!;
        lvls[w] = pl[j--]!;
      }
    }
    this.n += m;
  }
  private grow(cap: number): void {
    const k = new Float64Array(cap);
    k.set(this.keys.subarray(0, this.n));
    this.keys = k;
    const l = new Int32Array(cap);
    l.set(this.lvls.subarray(0, this.n));
    this.lvls = l;
  }
}

export interface FastBookOptions {
  /** Initial order-pool capacity of a private arena (grows by doubling). */
  initialOrders?: number;
  /**
   * Share one arena between the books of a shard: the pools' typed-array headers and the order-id
   * index stay hot in cache however many markets there are. Order ids are then unique per arena.
   */
  arena?: BookArena;
}

/**
 * Memory shared by the books of one shard (single-threaded): the order pool (one ArrayBuffer,
 * 128 bytes = two cache lines per slot, seen as F: Float64 ×16, I: Int32 ×32, U: Uint8 ×128 per
 * slot), the level pool (64 bytes per level: LF Float64 ×8, LI Int32 ×16), the order-id index and
 * the per-command depth scratch buffers.
 */
export class BookArena {
  cap: number;
  F: Float64Array;
  I: Int32Array;
  U: Uint8Array;
  oCid: string[];
  oCidNext: Int32Array;
  free: Int32Array;
  freeTop: number;
  lvCap: number;
  LF: Float64Array;
  LI: Int32Array;
  lvFree: Int32Array;
  lvFreeTop: number;
  /** order id → slot + 2^32 × owning market id (the owner check needs no extra cache line). */
  readonly byId: IdIndex;
  /** (price, marketId) → bid and ask level, for every level in any book's sorted arrays. */
  readonly byPrice: LevelIndex;
  // Flyweight views, shared by the books (commands run one at a time; sinks must not re-enter).
  readonly vA: SlotView;
  readonly vB: SlotView;
  readonly vOld: OldView;
  readonly vRej = new PlainView();
  dSide = new Uint8Array(16);
  dPrice = new Float64Array(16);
  dBefore = new Float64Array(16);
  dLevel = new Int32Array(16);
  dOrder = new Int32Array(16);
  dN = 0;
  /** Scratch for merging pending levels. */
  pKeys = new Float64Array(64);
  pLvls = new Int32Array(64);
  /** Whether to load lines early (the pools have outgrown the caches), and where those loads go. */
  prefetch: boolean;
  sink = 0;
  readonly bidBuf: DepthBuffer = { prices: new Float64Array(16), quantities: new Float64Array(16), count: 0 };
  readonly askBuf: DepthBuffer = { prices: new Float64Array(16), quantities: new Float64Array(16), count: 0 };

  constructor(initialOrders = 64) {
    const cap = Math.max(16, initialOrders);
    this.cap = cap;
    const buf = new ArrayBuffer(cap * SLOT_BYTES);
    this.F = new Float64Array(buf);
    this.I = new Int32Array(buf);
    this.U = new Uint8Array(buf);
    this.oCidNext = new Int32Array(cap);
    this.oCid = new Array<string>(cap).fill("");
    this.free = new Int32Array(cap);
    for (let i = 0; i < cap; i++) this.free[i] = cap - 1 - i;
    this.freeTop = cap;
    this.prefetch = cap * SLOT_BYTES >= PREFETCH_BYTES;
    const lc = Math.max(16, cap >> 1);
    this.lvCap = lc;
    const lbuf = new ArrayBuffer(lc * LEVEL_BYTES);
    this.LF = new Float64Array(lbuf);
    this.LI = new Int32Array(lbuf);
    this.lvFree = new Int32Array(lc);
    for (let i = 0; i < lc; i++) this.lvFree[i] = lc - 1 - i;
    this.lvFreeTop = lc;
    this.byId = new IdIndex(cap);
    this.byPrice = new LevelIndex(lc);
    this.vA = new SlotView(this);
    this.vB = new SlotView(this);
    this.vOld = new OldView(this);
  }

  alloc(): number {
    if (this.freeTop === 0) this.growOrders();
    return this.free[--this.freeTop]!;
  }

  growOrders(): void {
    const old = this.cap;
    const cap = old * 2;
    const buf = new ArrayBuffer(cap * SLOT_BYTES);
    new Uint8Array(buf).set(this.U);
    this.F = new Float64Array(buf);
    this.I = new Int32Array(buf);
    this.U = new Uint8Array(buf);
    const cn = new Int32Array(cap);
    cn.set(this.oCidNext);
    this.oCidNext = cn;

    for (let i = old; i < cap; i++) this.oCid.push("");
    const free = new Int32Array(cap);
    free.set(this.free.subarray(0, this.freeTop));
    for (let i = cap - 1; i >= old; i--) free[this.freeTop++] = i;
    this.free = free;
    this.cap = cap;
    if (cap * SLOT_BYTES >= PREFETCH_BYTES) this.prefetch = true;
  }

  growLevels(): void {
    const old = this.lvCap;
    const cap = old * 2;
    const lbuf = new ArrayBuffer(cap * LEVEL_BYTES);
    new Uint8Array(lbuf).set(new Uint8Array(this.LF.buffer));
    this.LF = new Float64Array(lbuf);
    this.LI = new Int32Array(lbuf);
    const free = new Int32Array(cap);
    free.set(this.lvFree.subarray(0, this.lvFreeTop));
    for (let i = cap - 1; i >= old; i--) free[this.lvFreeTop++] = i;
    this.lvFree = free;
    this.lvCap = cap;
  }
}

export class FastBook implements OrderBook {
  /** Order/level pools, order-id index and per-command scratch; shared by every book of a shard. */
  readonly a: BookArena;
  private readonly bids: SideBook;
  private readonly asks: SideBook;

  // ---- indexes
  /** clientOrderId → first slot of its chain (this book, all accounts; chained through oCidNext). */
  private readonly byCid = new Map<string, number>();
  /** account → head slot of its order list in this book (doubly linked, new orders at the head). */
  private readonly accHead = new Map<number, number>();
  private openCount = 0;

  // ---- stops
  private stopHead = NIL;
  private stopTail = NIL;
  private stopCount = 0;
  private minUp = Number.POSITIVE_INFINITY; // lowest stop of "trigger when last ≥ stop" orders (lower bound)
  private maxDown = Number.NEGATIVE_INFINITY; // highest stop of "trigger when last ≤ stop" orders (upper bound)

  // ---- counters / state
  private readonly s: MarketSpec;
  // Status and filters, copied from the spec: checked on every command without reading another
  // object (with a thousand books that is a cache miss of its own). FastBook is its own MarketFilters.
  private status: MarketStatus;
  private readonly defaultStp: Stp;
  tickSize: number;
  stepSize: number;
  minQty: number;
  maxQty: number;
  minPrice: number;
  maxPrice: number;
  minNotional: number;
  private nextSeq = 1;
  private lastTradeId = 0;
  private lastUpdateId = 0;
  private last = 0;

  // ---- per-command depth tracking (scratch buffers live in the arena)
  private cmdNo = 1;

  // ---- views
  private readonly vA: SlotView;
  private readonly vB: SlotView;
  private readonly vOld: OldView;
  private readonly vRej: PlainView;
  // Per-side scalars kept on the book (hot) rather than on the side objects:
  /** Best level of each side, or NIL; the last entry of the side's sorted array. */
  private bidTop = NIL;
  private askTop = NIL;
  /** Price of the best level (valid when the top is not NIL): the no-cross check reads no level. */
  private bidTopPx = 0;
  private askTopPx = 0;
  /** Empty levels still in each side's array (never the last one). */
  private bidEmpties = 0;
  private askEmpties = 0;
  /**
   * New levels below the best, not yet in the sorted array: a list through the level records
   * (L_PNEXT). Most new levels land deep in the book (orders moved away from the touch), where a
   * sorted insert would shift the array; pending ones are merged in only when a side is walked in
   * price order (its best level emptied, FOK, queries) — and resting one touches no array.
   */
  private bidPend = NIL;
  private askPend = NIL;
  private bidPendN = 0;
  private askPendN = 0;
  /**
   * Total open quantity per side (bounds every level's quantity: overflow checks skip the lookup).
   * Exact while ≤ 2^53 − 1; beyond, a float sum would round (and could end up below a level's
   * quantity), so it becomes Infinity — always look the level up — until the side is empty again.
   */
  private bidTotal = 0;
  private askTotal = 0;

  constructor(
    readonly marketId: number,
    spec: MarketSpec,
    private readonly sink: BookSink,
    opts: FastBookOptions = {},
  ) {
    this.s = { ...spec };
    this.status = spec.status;
    this.defaultStp = spec.defaultStp;
    this.tickSize = spec.tickSize;
    this.stepSize = spec.stepSize;
    this.minQty = spec.minQty;
    this.maxQty = spec.maxQty;
    this.minPrice = spec.minPrice;
    this.maxPrice = spec.maxPrice;
    this.minNotional = spec.minNotional;
    this.a = opts.arena ?? new BookArena(opts.initialOrders ?? 64);
    if (!(Number.isInteger(marketId) && marketId >= 0 && marketId < 2 ** 20))
      throw new RangeError("bad marketId");
    this.vA = this.a.vA;
    this.vB = this.a.vB;
    this.vOld = this.a.vOld;
    this.vRej = this.a.vRej;
    this.bids = new SideBook(32);
    this.asks = new SideBook(32);
  }

  get spec(): Readonly<MarketSpec> {
    return this.s;
  }

  // =================================================================== commands

  place(c: PlaceCommand, t: number): void {
    this.doPlace(c, t);
    if (this.stopCount !== 0) this.runTriggers();
    this.flushDepth();
  }

  cancel(c: CancelCommand, t: number): void {
    const o = this.find(c.account, c.orderId, c.clientOrderId);
    if (o === NIL) {
      this.sink.rejected(
        this.marketId,
        this.vRej.fromRef(c.account, c.orderId, c.clientOrderId, t),
        RejectReason.UNKNOWN_ORDER,
      );
    } else {
      this.cancelSlot(o, CancelReason.USER);
    }
    this.flushDepth();
  }

  replace(c: ReplaceCommand, t: number): void {
    const r = this.doReplace(c, t);
    if (r !== null) {
      this.sink.rejected(this.marketId, this.vRej.fromRef(c.account, c.orderId, c.clientOrderId, t), r);
    }
    if (this.stopCount !== 0) this.runTriggers();
    this.flushDepth();
  }

  massCancel(account: number, _t: number): void {
    const h = this.accHead.get(account);
    if (h !== undefined) {
      const slots: number[] = [];
      for (let s = h; s !== NIL; s = this.a.I[s * 32 + O_ACCNEXT]!) slots.push(s);
      this.cancelSorted(slots, CancelReason.MASS_CANCEL);
    }
    this.flushDepth();
  }

  setStatus(status: MarketStatus, _t: number): void {
    if (status === MarketStatus.BREAK && this.status !== MarketStatus.BREAK) {
      this.cancelSorted(this.allOpenSlots(), CancelReason.MARKET_CLOSED);
    }
    this.s.status = status;
    this.status = status;
    this.flushDepth();
  }

  updateFilters(f: MarketFilters): void {
    this.s.tickSize = f.tickSize;
    this.s.stepSize = f.stepSize;
    this.s.minQty = f.minQty;
    this.s.maxQty = f.maxQty;
    this.s.minPrice = f.minPrice;
    this.s.maxPrice = f.maxPrice;
    this.s.minNotional = f.minNotional;
    this.tickSize = f.tickSize;
    this.stepSize = f.stepSize;
    this.minQty = f.minQty;
    this.maxQty = f.maxQty;
    this.minPrice = f.minPrice;
    this.maxPrice = f.maxPrice;
    this.minNotional = f.minNotional;
  }

  // =================================================================== place / replace

  private doPlace(c: PlaceCommand, t: number): void {
    let reason = validatePlace(this.status, this, c);
    if (reason === null) {
      if (this.a.prefetch && c.price !== 0) this.prefetchRest(c.price, c.side); // overlaps the duplicate-id probe's miss
      reason = this.stateChecks(c);
    }
    if (reason !== null) {
      this.sink.rejected(this.marketId, this.vRej.fromPlace(c, t), reason);
      return;
    }
    const o = this.alloc();
    this.a.F[o * 16 + O_ID] = c.orderId;
    this.a.I[o * 32 + O_ACC] = c.account;
    this.a.oCid[o] = c.clientOrderId;
    this.a.U[o * 128 + O_SIDE] = c.side;
    this.a.U[o * 128 + O_TYPE] = c.type;
    this.a.U[o * 128 + O_TIF] = c.timeInForce;
    this.a.U[o * 128 + O_STP] = resolveStp(c.stp, this.defaultStp);
    const stop = isStop(c.type);
    this.a.U[o * 128 + O_STATUS] = stop ? OrderStatus.PENDING_NEW : OrderStatus.NEW;
    this.a.U[o * 128 + O_INDEXED] = 0;
    this.a.F[o * 16 + O_PRICE] = c.price;
    this.a.F[o * 16 + O_QTY] = c.quantity;
    this.a.F[o * 16 + O_FILLED] = 0;
    this.a.F[o * 16 + O_LEAVES] = c.quantity;
    this.a.F[o * 16 + O_QHI] = 0;
    this.a.F[o * 16 + O_QLO] = 0;
    this.a.F[o * 16 + O_STOP] = c.stopPrice;
    this.a.F[o * 16 + O_QUOTEQTY] = c.quoteOrderQty;
    this.a.F[o * 16 + O_RESERVED] = c.reserved;
    this.a.F[o * 16 + O_CREATED] = t;
    this.a.I[o * 32 + O_LEVEL] = NIL;
    this.vA.slot = o;
    this.sink.accepted(this.marketId, this.vA);
    if (stop) {
      this.addStop(o);
      return;
    }
    this.execute(o);
  }

  private stateChecks(c: PlaceCommand): RejectReason | null {
    if (this.a.byId.get(c.orderId) !== NIL) return RejectReason.DUPLICATE_ORDER_ID;
    if (c.clientOrderId !== "" && this.findCid(c.account, c.clientOrderId) !== NIL)
      return RejectReason.DUPLICATE_CLIENT_ORDER_ID;
    const t = c.type;
    if (t === OrderType.LIMIT_MAKER && this.wouldTake(c.side, c.price)) return RejectReason.WOULD_TAKE;
    if (t >= OrderType.STOP_LOSS && stopTriggers(t, c.side, c.stopPrice, this.last))
      return RejectReason.WOULD_TRIGGER_IMMEDIATELY;
    if (
      (t === OrderType.LIMIT || t === OrderType.LIMIT_MAKER) &&
      (c.side === BUY ? this.bidTotal : this.askTotal) + c.quantity > MAX &&
      this.levelQty(c.side, c.price) + c.quantity > MAX
    )
      return RejectReason.LEVEL_OVERFLOW;
    return null;
  }

  private doReplace(c: ReplaceCommand, t: number): RejectReason | null {
    if (this.status === MarketStatus.HALT) return RejectReason.MARKET_HALTED;
    if (this.status === MarketStatus.BREAK) return RejectReason.MARKET_CLOSED;
    if (this.a.prefetch && c.newPrice !== 0) this.prefetchRest(c.newPrice, 0);
    const o = this.find(c.account, c.orderId, c.clientOrderId);
    if (o === NIL) return RejectReason.UNKNOWN_ORDER;
    if (this.a.I[o * 32 + O_LEVEL] === IN_STOPS) return RejectReason.NOT_REPLACEABLE;
    const oldPrice = this.a.F[o * 16 + O_PRICE]!;
    const leaves = this.a.F[o * 16 + O_LEAVES]!;
    const price = c.newPrice === 0 ? oldPrice : c.newPrice;
    const qty = c.newQuantity === 0 ? leaves : c.newQuantity;
    if (!priceOk(this, price)) return RejectReason.PRICE_FILTER;
    if (!qtyOk(this, qty)) return RejectReason.LOT_SIZE;
    if (!notionalAtLeast(price, qty, this.minNotional)) return RejectReason.MIN_NOTIONAL;
    if (!notionalFitsInt64(price, qty)) return RejectReason.MAX_NOTIONAL;
    const oldId = this.a.F[o * 16 + O_ID]!;
    const id = c.newOrderId === 0 ? oldId : c.newOrderId;
    if (id !== oldId) {
      if (!Number.isSafeInteger(id) || id <= 0) return RejectReason.INVALID_ORDER_ID;
      if (this.a.byId.get(id) !== NIL) return RejectReason.DUPLICATE_ORDER_ID;
    }
    // The old clientOrderId (a string elsewhere in the heap: a cache miss with many books) is read
    // only when a new one is given.
    const cid = c.newClientOrderId;
    const cidChanges = cid !== "" && cid !== this.a.oCid[o];
    const acc = this.a.I[o * 32 + O_ACC]!;
    if (cidChanges && this.findCid(acc, cid) !== NIL) return RejectReason.DUPLICATE_CLIENT_ORDER_ID;
    const side = this.a.U[o * 128 + O_SIDE] as Side;
    const kept = price === oldPrice && qty <= leaves;
    if (!kept) {
      if (this.a.U[o * 128 + O_TYPE] === OrderType.LIMIT_MAKER && this.wouldTake(side, price))
        return RejectReason.WOULD_TAKE;
      const same = price === oldPrice ? leaves : 0;
      if (
        (side === BUY ? this.bidTotal : this.askTotal) + qty > MAX &&
        this.levelQty(side, price) - same + qty > MAX
      )
        return RejectReason.LEVEL_OVERFLOW;
    }
    // Accepted: report the old order as cancelled, re-key, then rewrite the slot.
    this.a.U[o * 128 + O_STATUS] = OrderStatus.CANCELED;
    this.vOld.copy(o);
    if (id !== oldId) {
      this.a.byId.delete(oldId);
      this.a.byId.set(id, o + this.marketId * 4294967296, this.a.I[o * 32 + O_LEVEL]!);
      this.a.F[o * 16 + O_ID] = id;
    }
    if (cidChanges) {
      const oldCid = this.a.oCid[o]!;
      this.vOld.keepCid(oldCid);
      if (oldCid !== "") this.cidRemove(o);
      this.a.oCid[o] = cid;
      this.cidInsert(o);
    }
    this.a.F[o * 16 + O_QTY] = qty;
    this.a.F[o * 16 + O_FILLED] = 0;
    this.a.F[o * 16 + O_QHI] = 0;
    this.a.F[o * 16 + O_QLO] = 0;
    this.a.U[o * 128 + O_STATUS] = OrderStatus.NEW;
    this.vA.slot = o;
    if (kept) {
      const lv = this.a.I[o * 32 + O_LEVEL]!;
      if (qty !== leaves) {
        this.touch(lv);
        this.a.LF[lv * 8 + L_QTY] = this.a.LF[lv * 8 + L_QTY]! - (leaves - qty);
        if (this.a.U[o * 128 + O_SIDE] === BUY) this.bidTotal -= leaves - qty;
        else this.askTotal -= leaves - qty;
      }
      this.a.F[o * 16 + O_LEAVES] = qty;
      this.sink.replaced(this.marketId, this.vOld, this.vA, true);
      return null;
    }
    this.unlinkLevel(o);
    this.a.F[o * 16 + O_PRICE] = price;
    this.a.F[o * 16 + O_LEAVES] = qty;
    this.a.F[o * 16 + O_CREATED] = t;
    this.sink.replaced(this.marketId, this.vOld, this.vA, false);
    this.execute(o);
    return null;
  }

  /**
   * Loads what resting at `price` will read — the price-index entry and the level — before the
   * order lookup, so that their cache misses overlap instead of following one another (with a
   * thousand books these lines are mostly out of cache). The level's tail order is only written
   * (a store miss does not stall), so it is not loaded. side 0: both sides' levels.
   */
  private prefetchRest(price: number, side: number): void {
    const a = this.a;
    const e = a.byPrice.probe(price, this.marketId);
    if (e < 0) return;
    const kv = a.byPrice.kv;
    let x = 0;
    if (side !== SELL) {
      const lv = kv[e + 2]!;
      if (lv !== NIL) x += a.LI[lv * 16 + L_COUNT]!;
    }
    if (side !== BUY) {
      const lv = kv[e + 3]!;
      if (lv !== NIL) x += a.LI[lv * 16 + L_COUNT]!;
    }
    a.sink = x;
  }

  // =================================================================== matching

  /** Runs an order that is not resting: FOK check, match, then rest or expire. Frees the slot if it ends. */
  private execute(o: number): void {
    const type = this.a.U[o * 128 + O_TYPE]!;
    const side = this.a.U[o * 128 + O_SIDE]!;
    const isMarket = !isLimitLike(type);
    const tif = this.a.U[o * 128 + O_TIF]!;
    const limit = this.a.F[o * 16 + O_PRICE]!;
    if (!isMarket && tif === 3 && type !== OrderType.LIMIT_MAKER && !this.fokFillable(o)) {
      this.a.U[o * 128 + O_STATUS] = OrderStatus.EXPIRED;
      this.vA.slot = o;
      this.sink.expired(this.marketId, this.vA, ExpireReason.FOK);
      this.release(o);
      return;
    }
    const quoteQty = this.a.F[o * 16 + O_QUOTEQTY]!;
    const byQuote = quoteQty > 0;
    const hasBudget = byQuote || (isMarket && side === BUY && this.a.F[o * 16 + O_RESERVED]! > 0);
    let budget = byQuote ? quoteQty : this.a.F[o * 16 + O_RESERVED]!;
    let stoppedByBudget = false;
    // The quote cap (common.ts QUOTE_CAP). The order has no fill yet (new, replaced or triggered):
    // quoteEst is its quote as a float sum, within a tiny relative error, checked against 2^62.
    let quoteEst = 0;
    let stoppedByCap = false;
    const acc = this.a.I[o * 32 + O_ACC]!;
    const stp = this.a.U[o * 128 + O_STP]!;
    const step = this.stepSize;
    const vM = this.vA;
    const vT = this.vB;
    vT.slot = o;
    let leaves = this.a.F[o * 16 + O_LEAVES]!;
    while (byQuote ? budget > 0 : leaves > 0) {
      const lv = side === BUY ? this.askTop : this.bidTop;
      if (lv === NIL) break;
      const p = side === BUY ? this.askTopPx : this.bidTopPx;
      if (!isMarket && (side === BUY ? p > limit : p < limit)) break;
      const m = this.a.LI[lv * 16 + L_HEAD]!;
      if (stp !== Stp.NONE && this.a.I[m * 32 + O_ACC] === acc) {
        if (stp === Stp.EXPIRE_MAKER || stp === Stp.EXPIRE_BOTH) {
          this.unlinkLevel(m);
          this.a.U[m * 128 + O_STATUS] = OrderStatus.EXPIRED_IN_MATCH;
          vM.slot = m;
          this.sink.expired(this.marketId, vM, ExpireReason.STP);
          this.release(m);
        }
        if (stp === Stp.EXPIRE_TAKER || stp === Stp.EXPIRE_BOTH) {
          this.a.F[o * 16 + O_LEAVES] = leaves;
          this.a.U[o * 128 + O_STATUS] = OrderStatus.EXPIRED_IN_MATCH;
          this.sink.expired(this.marketId, vT, ExpireReason.STP);
          this.release(o);
          return;
        }
        continue;
      }
      const mLeaves = this.a.F[m * 16 + O_LEAVES]!;
      let q = byQuote || mLeaves < leaves ? mLeaves : leaves;
      if (hasBudget) {
        const a = affordable(budget, p, step);
        if (a < q) q = a;
        if (q === 0) {
          stoppedByBudget = true;
          break;
        }
      }
      let prod = p * q;
      if (quoteEst + prod >= QUOTE_EXACT_FROM) {
        // Near the cap: cut the fill to the whole steps that fit; none → stop.
        const fits = this.quoteFits(o, p, q);
        if (fits < q) {
          stoppedByCap = true;
          if (fits === 0) break;
          q = fits;
          prod = p * q;
        }
      }
      quoteEst += prod;
      // maker
      this.touch(lv);
      this.a.LF[lv * 8 + L_QTY] = this.a.LF[lv * 8 + L_QTY]! - q;
      if (side === BUY) this.askTotal -= q;
      else this.bidTotal -= q;
      const ml = mLeaves - q;
      this.a.F[m * 16 + O_LEAVES] = ml;
      this.a.F[m * 16 + O_FILLED] = this.a.F[m * 16 + O_FILLED]! + q;
      this.addQuote(m, p, q, prod);
      this.a.U[m * 128 + O_STATUS] = ml === 0 ? OrderStatus.FILLED : OrderStatus.PARTIALLY_FILLED;
      // taker
      if (hasBudget) budget -= prod; // exact: prod ≤ budget ≤ MAX
      if (!byQuote) leaves -= q;
      this.a.F[o * 16 + O_LEAVES] = leaves;
      this.a.F[o * 16 + O_FILLED] = this.a.F[o * 16 + O_FILLED]! + q;
      this.addQuote(o, p, q, prod);
      const done = byQuote ? budget === 0 : leaves === 0;
      this.a.U[o * 128 + O_STATUS] = done ? OrderStatus.FILLED : OrderStatus.PARTIALLY_FILLED;
      this.last = p;
      if (ml === 0) this.unlinkLevel(m);
      vM.slot = m;
      this.sink.trade(this.marketId, ++this.lastTradeId, p, q, side === SELL, vM, vT);
      if (ml === 0) this.release(m);
    }
    this.a.F[o * 16 + O_LEAVES] = leaves;
    if (!(byQuote ? budget > 0 : leaves > 0)) {
      this.release(o);
      return;
    }
    if (isMarket || stoppedByCap) {
      this.a.U[o * 128 + O_STATUS] = OrderStatus.EXPIRED;
      this.sink.expired(
        this.marketId,
        vT,
        stoppedByCap
          ? ExpireReason.MAX_NOTIONAL
          : stoppedByBudget
            ? ExpireReason.BUDGET
            : ExpireReason.NO_LIQUIDITY,
      );
      this.release(o);
    } else if (type === OrderType.LIMIT_MAKER || tif === 1) {
      // As a maker it fills at its limit price: its quote must stay within the cap.
      if (quoteEst + limit * leaves < QUOTE_EXACT_FROM || this.restQuoteFits(o, limit, leaves)) this.rest(o);
      else {
        this.a.U[o * 128 + O_STATUS] = OrderStatus.EXPIRED;
        this.sink.expired(this.marketId, vT, ExpireReason.MAX_NOTIONAL);
        this.release(o);
      }
    } else {
      this.a.U[o * 128 + O_STATUS] = OrderStatus.EXPIRED;
      this.sink.expired(this.marketId, vT, tif === 3 ? ExpireReason.FOK : ExpireReason.IOC);
      this.release(o);
    }
  }

  private fokFillable(o: number): boolean {
    const side = this.a.U[o * 128 + O_SIDE]!;
    const limit = this.a.F[o * 16 + O_PRICE]!;
    const acc = this.a.I[o * 32 + O_ACC]!;
    const stp = this.a.U[o * 128 + O_STP]!;
    let need = this.a.F[o * 16 + O_LEAVES]!;
    let quoteEst = 0; // Σ price × quantity of the fill, a float estimate (see QUOTE_EXACT_FROM)
    const opp = side === BUY ? this.asks : this.bids;
    this.mergePending(side === BUY ? SELL : BUY);
    for (let i = opp.n - 1; i >= 0; i--) {
      const lv = opp.lvls[i]!;
      const p = this.a.LF[lv * 8 + L_PRICE]!;
      if (side === BUY ? p > limit : p < limit) return false;
      const lq = this.a.LF[lv * 8 + L_QTY]!;
      if (stp === Stp.NONE && lq < need) {
        need -= lq;
        quoteEst += p * lq;
        continue;
      }
      for (let m = this.a.LI[lv * 16 + L_HEAD]!; m !== NIL; m = this.a.I[m * 32 + O_NEXT]!) {
        if (stp !== Stp.NONE && this.a.I[m * 32 + O_ACC] === acc) {
          if (stp === Stp.EXPIRE_MAKER) continue;
          return false;
        }
        const take = Math.min(this.a.F[m * 16 + O_LEAVES]!, need);
        need -= take;
        quoteEst += p * take;
        if (need === 0) return quoteEst < QUOTE_EXACT_FROM || this.fokQuoteFits(o);
      }
    }
    return false;
  }

  /** fokFillable's quote check, exact (BigInt; near the cap only): the same walk, Σ price × quantity ≤ QUOTE_CAP. */
  private fokQuoteFits(o: number): boolean {
    const side = this.a.U[o * 128 + O_SIDE]!;
    const acc = this.a.I[o * 32 + O_ACC]!;
    const skipOwn = this.a.U[o * 128 + O_STP]! !== Stp.NONE; // fillable: own makers are EXPIRE_MAKER'd
    let need = this.a.F[o * 16 + O_LEAVES]!;
    let quote = 0n;
    const opp = side === BUY ? this.asks : this.bids;
    for (let i = opp.n - 1; i >= 0; i--) {
      const lv = opp.lvls[i]!;
      const p = BigInt(this.a.LF[lv * 8 + L_PRICE]!);
      for (let m = this.a.LI[lv * 16 + L_HEAD]!; m !== NIL; m = this.a.I[m * 32 + O_NEXT]!) {
        if (skipOwn && this.a.I[m * 32 + O_ACC] === acc) continue;
        const take = Math.min(this.a.F[m * 16 + O_LEAVES]!, need);
        need -= take;
        quote += p * BigInt(take);
        if (need === 0) return quote <= QUOTE_CAP;
      }
    }
    return false;
  }

  /** The largest q' ≤ q, in whole steps, with filledQuote + p·q' ≤ QUOTE_CAP (exact; near the cap only). */
  private quoteFits(o: number, p: number, q: number): number {
    const quote = wideToBigInt(this.a.F[o * 16 + O_QHI]!, this.a.F[o * 16 + O_QLO]!);
    const room = (QUOTE_CAP - quote) / BigInt(p);
    if (room >= BigInt(q)) return q;
    const fits = Number(room);
    return fits - (fits % this.stepSize);
  }

  /** filledQuote + limit × open quantity ≤ QUOTE_CAP (exact; near the cap only). */
  private restQuoteFits(o: number, limit: number, leaves: number): boolean {
    const quote = wideToBigInt(this.a.F[o * 16 + O_QHI]!, this.a.F[o * 16 + O_QLO]!);
    return quote + BigInt(limit) * BigInt(leaves) <= QUOTE_CAP;
  }

  /** filledQuote += p·q exactly (two limbs, BigInt only when p·q ≥ 2^52). */
  private addQuote(s: number, p: number, q: number, prod: number): void {
    if (prod < WIDE_FAST) {
      let lo = this.a.F[s * 16 + O_QLO]! + prod;
      if (lo >= WIDE_FAST) {
        lo -= WIDE_FAST;
        this.a.F[s * 16 + O_QHI] = this.a.F[s * 16 + O_QHI]! + 1;
      }
      this.a.F[s * 16 + O_QLO] = lo;
      return;
    }
    const v = wideToBigInt(this.a.F[s * 16 + O_QHI]!, this.a.F[s * 16 + O_QLO]!) + BigInt(p) * BigInt(q);
    this.a.F[s * 16 + O_QHI] = Number(v / 4503599627370496n);
    this.a.F[s * 16 + O_QLO] = Number(v % 4503599627370496n);
  }

  // =================================================================== stops

  private addStop(o: number): void {
    this.a.F[o * 16 + O_SEQ] = this.nextSeq++;
    this.a.I[o * 32 + O_LEVEL] = IN_STOPS;
    this.a.I[o * 32 + O_NEXT] = NIL;
    this.a.I[o * 32 + O_PREV] = this.stopTail;
    if (this.stopTail === NIL) this.stopHead = o;
    else this.a.I[this.stopTail * 32 + O_NEXT] = o;
    this.stopTail = o;
    this.stopCount++;
    this.noteThreshold(o);
    this.index(o);
  }

  private noteThreshold(o: number): void {
    const type = this.a.U[o * 128 + O_TYPE]!;
    const stopLoss = type === OrderType.STOP_LOSS || type === OrderType.STOP_LOSS_LIMIT;
    const sp = this.a.F[o * 16 + O_STOP]!;
    if (stopLoss === (this.a.U[o * 128 + O_SIDE] === BUY)) {
      if (sp < this.minUp) this.minUp = sp;
    } else if (sp > this.maxDown) this.maxDown = sp;
  }

  private unlinkStop(o: number): void {
    const p = this.a.I[o * 32 + O_PREV]!;
    const n = this.a.I[o * 32 + O_NEXT]!;
    if (p === NIL) this.stopHead = n;
    else this.a.I[p * 32 + O_NEXT] = n;
    if (n === NIL) this.stopTail = p;
    else this.a.I[n * 32 + O_PREV] = p;
    this.a.I[o * 32 + O_LEVEL] = NIL;
    this.stopCount--;
  }

  /** Triggers eligible stops one at a time, lowest seq first, re-evaluating after each. */
  private runTriggers(): void {
    for (;;) {
      const last = this.last;
      if (last === 0 || this.stopCount === 0) return;
      if (last < this.minUp && last > this.maxDown) return;
      let found = NIL;
      let minUp = Number.POSITIVE_INFINITY;
      let maxDown = Number.NEGATIVE_INFINITY;
      for (let s = this.stopHead; s !== NIL; s = this.a.I[s * 32 + O_NEXT]!) {
        if (
          stopTriggers(
            this.a.U[s * 128 + O_TYPE]!,
            this.a.U[s * 128 + O_SIDE]!,
            this.a.F[s * 16 + O_STOP]!,
            last,
          )
        ) {
          found = s;
          break;
        }
        const type = this.a.U[s * 128 + O_TYPE]!;
        const stopLoss = type === OrderType.STOP_LOSS || type === OrderType.STOP_LOSS_LIMIT;
        const sp = this.a.F[s * 16 + O_STOP]!;
        if (stopLoss === (this.a.U[s * 128 + O_SIDE] === BUY)) {
          if (sp < minUp) minUp = sp;
        } else if (sp > maxDown) maxDown = sp;
      }
      if (found === NIL) {
        this.minUp = minUp;
        this.maxDown = maxDown;
        return;
      }
      this.unlinkStop(found);
      this.unindex(found);
      this.a.U[found * 128 + O_STATUS] = OrderStatus.NEW;
      this.vA.slot = found;
      this.sink.triggered(this.marketId, this.vA, last);
      this.execute(found);
    }
  }

  // =================================================================== resting orders & levels

  private rest(o: number): void {
    const side = this.a.U[o * 128 + O_SIDE]!;
    const price = this.a.F[o * 16 + O_PRICE]!;
    let lv = this.a.byPrice.get(price, this.marketId, side);
    if (lv !== NIL) {
      if (this.a.LI[lv * 16 + L_COUNT] === 0) {
        // reuse an empty level
        if (side === BUY) this.bidEmpties--;
        else this.askEmpties--;
      }
    } else {
      lv = this.allocLevel(side, price);
      this.a.byPrice.set(price, this.marketId, side, lv);
      // A new price: the new best, or a level below the best (pending until the side is walked).
      if (
        side === BUY
          ? this.bidTop !== NIL && price < this.bidTopPx
          : this.askTop !== NIL && price > this.askTopPx
      ) {
        if (side === BUY) {
          this.a.LI[lv * 16 + L_PNEXT] = this.bidPend;
          this.bidPend = lv;
          this.bidPendN++;
        } else {
          this.a.LI[lv * 16 + L_PNEXT] = this.askPend;
          this.askPend = lv;
          this.askPendN++;
        }
      } else {
        (side === BUY ? this.bids : this.asks).append(side === BUY ? price : -price, lv);
        if (side === BUY) {
          this.bidTop = lv;
          this.bidTopPx = price;
        } else {
          this.askTop = lv;
          this.askTopPx = price;
        }
      }
    }
    this.touch(lv);
    const leaves = this.a.F[o * 16 + O_LEAVES]!;
    this.a.LF[lv * 8 + L_QTY] = this.a.LF[lv * 8 + L_QTY]! + leaves;
    if (side === BUY) {
      const total = this.bidTotal + leaves;
      this.bidTotal = total > MAX ? Number.POSITIVE_INFINITY : total;
    } else {
      const total = this.askTotal + leaves;
      this.askTotal = total > MAX ? Number.POSITIVE_INFINITY : total;
    }
    this.a.LI[lv * 16 + L_COUNT] = this.a.LI[lv * 16 + L_COUNT]! + 1;
    const tail = this.a.LI[lv * 16 + L_TAIL]!;
    this.a.I[o * 32 + O_PREV] = tail;
    this.a.I[o * 32 + O_NEXT] = NIL;
    if (tail === NIL) this.a.LI[lv * 16 + L_HEAD] = o;
    else this.a.I[tail * 32 + O_NEXT] = o;
    this.a.LI[lv * 16 + L_TAIL] = o;
    this.a.I[o * 32 + O_LEVEL] = lv;
    this.a.F[o * 16 + O_SEQ] = this.nextSeq++;
    if (this.a.U[o * 128 + O_INDEXED] === 0) this.index(o);
    else if (this.a.prefetch) this.a.byId.setHint(this.a.F[o * 16 + O_ID]!, lv);
  }

  /** Removes a resting order from its level (and the level when it empties). Indexes untouched. */
  private unlinkLevel(o: number): void {
    const lv = this.a.I[o * 32 + O_LEVEL]!;
    const p = this.a.I[o * 32 + O_PREV]!;
    const n = this.a.I[o * 32 + O_NEXT]!;
    if (p === NIL) this.a.LI[lv * 16 + L_HEAD] = n;
    else this.a.I[p * 32 + O_NEXT] = n;
    if (n === NIL) this.a.LI[lv * 16 + L_TAIL] = p;
    else this.a.I[n * 32 + O_PREV] = p;
    this.a.I[o * 32 + O_LEVEL] = NIL;
    this.touch(lv);
    this.a.LF[lv * 8 + L_QTY] = this.a.LF[lv * 8 + L_QTY]! - this.a.F[o * 16 + O_LEAVES]!;
    const side = this.a.LI[lv * 16 + L_SIDE]!;
    if (side === BUY) this.bidTotal -= this.a.F[o * 16 + O_LEAVES]!;
    else this.askTotal -= this.a.F[o * 16 + O_LEAVES]!;
    const cnt = this.a.LI[lv * 16 + L_COUNT]! - 1;
    this.a.LI[lv * 16 + L_COUNT] = cnt;
    if (cnt === 0) {
      // An emptied level stays in the sorted array (a later order at that price reuses it without
      // shifting) unless it is the best: the last entry of a side is always non-empty.
      if (lv === (side === BUY ? this.bidTop : this.askTop)) this.popEmpty(side);
      else {
        const e = side === BUY ? ++this.bidEmpties : ++this.askEmpties;
        if (e > 64) {
          const sb = side === BUY ? this.bids : this.asks;
          if (e * 2 > sb.n + (side === BUY ? this.bidPendN : this.askPendN)) this.compact(sb, side);
        }
      }
    }
  }

  /** Moves a side's pending levels into its sorted array (shellsort: in place, no allocation). */
  private mergePending(side: number): void {
    const m = side === BUY ? this.bidPendN : this.askPendN;
    if (m === 0) return;
    const a = this.a;
    if (a.pKeys.length < m) {
      a.pKeys = new Float64Array(m * 2);
      a.pLvls = new Int32Array(m * 2);
    }
    const pk = a.pKeys;
    const pl = a.pLvls;
    let lv = side === BUY ? this.bidPend : this.askPend;
    for (let i = 0; i < m; i++) {
      pk[i] = side === BUY ? a.LF[lv * 8 + L_PRICE]! : -a.LF[lv * 8 + L_PRICE]!;
      pl[i] = lv;
      lv = a.LI[lv * 16 + L_PNEXT]!;
    }
    let gap = 1;
    while (gap < m / 3) gap = gap * 3 + 1;
    for (; gap > 0; gap = (gap - 1) / 3) {
      for (let i = gap; i < m; i++) {
        const k = pk[i]!;
        const l = pl[i]!;
        let j = i;
        while (j >= gap && pk[j - gap]! > k) {
          pk[j] = pk[j - gap]!;
          pl[j] = pl[j - gap]!;
          j -= gap;
        }
        pk[j] = k;
        pl[j] = l;
      }
    }
    if (side === BUY) {
      this.bids.mergeSorted(pk, pl, m);
      this.bidPend = NIL;
      this.bidPendN = 0;
    } else {
      this.asks.mergeSorted(pk, pl, m);
      this.askPend = NIL;
      this.askPendN = 0;
    }
  }

  /** Pops empty levels off the end (the touch) of a side. */
  private popEmpty(side: number): void {
    const sb = side === BUY ? this.bids : this.asks;
    this.mergePending(side); // the next best may be pending
    let n = sb.n;
    const lvls = sb.lvls;
    const LI = this.a.LI;
    let lv = lvls[--n]!;
    this.a.lvFree[this.a.lvFreeTop++] = lv;
    this.a.byPrice.delete(this.a.LF[lv * 8 + L_PRICE]!, this.marketId, side);
    while (n > 0 && LI[lvls[n - 1]! * 16 + L_COUNT] === 0) {
      lv = lvls[--n]!;
      this.a.lvFree[this.a.lvFreeTop++] = lv;
      this.a.byPrice.delete(this.a.LF[lv * 8 + L_PRICE]!, this.marketId, side);
      if (side === BUY) this.bidEmpties--;
      else this.askEmpties--;
    }
    sb.n = n;
    const top = n === 0 ? NIL : lvls[n - 1]!;
    const px = top === NIL ? 0 : this.a.LF[top * 8 + L_PRICE]!;
    if (side === BUY) {
      this.bidTop = top;
      this.bidTopPx = px;
      if (top === NIL) this.bidTotal = 0; // exact again (it may have been Infinity)
    } else {
      this.askTop = top;
      this.askTopPx = px;
      if (top === NIL) this.askTotal = 0;
    }
  }

  /** Drops every empty level of a side (amortised: runs when more than half are empty). */
  private compact(sb: SideBook, side: number): void {
    this.mergePending(side);
    let j = 0;
    for (let i = 0; i < sb.n; i++) {
      const lv = sb.lvls[i]!;
      if (this.a.LI[lv * 16 + L_COUNT] === 0) {
        this.a.lvFree[this.a.lvFreeTop++] = lv;
        this.a.byPrice.delete(this.a.LF[lv * 8 + L_PRICE]!, this.marketId, side);
        continue;
      }
      sb.keys[j] = sb.keys[i]!;
      sb.lvls[j++] = lv;
    }
    sb.n = j;
    if (side === BUY) this.bidEmpties = 0;
    else this.askEmpties = 0;
  }

  private allocLevel(side: number, price: number): number {
    if (this.a.lvFreeTop === 0) this.a.growLevels();
    const lv = this.a.lvFree[--this.a.lvFreeTop]!;
    this.a.LF[lv * 8 + L_PRICE] = price;
    this.a.LF[lv * 8 + L_QTY] = 0;
    this.a.LF[lv * 8 + L_STAMP] = 0;
    this.a.LI[lv * 16 + L_HEAD] = NIL;
    this.a.LI[lv * 16 + L_TAIL] = NIL;
    this.a.LI[lv * 16 + L_COUNT] = 0;
    this.a.LI[lv * 16 + L_SIDE] = side;
    return lv;
  }

  private levelQty(side: number, price: number): number {
    const lv = this.a.byPrice.get(price, this.marketId, side);
    return lv === NIL ? 0 : this.a.LF[lv * 8 + L_QTY]!;
  }

  private wouldTake(side: number, price: number): boolean {
    if (side === BUY) return this.askTop !== NIL && this.askTopPx <= price;
    return this.bidTop !== NIL && this.bidTopPx >= price;
  }

  private cancelSlot(o: number, reason: CancelReason): void {
    if (this.a.I[o * 32 + O_LEVEL] === IN_STOPS) this.unlinkStop(o);
    else this.unlinkLevel(o);
    this.a.U[o * 128 + O_STATUS] = OrderStatus.CANCELED;
    this.vA.slot = o;
    this.sink.cancelled(this.marketId, this.vA, reason);
    this.release(o);
  }

  /** Cancels the given slots in ascending order id. */
  private cancelSorted(slots: number[], reason: CancelReason): void {
    slots.sort((a, b) => this.a.F[a * 16 + O_ID]! - this.a.F[b * 16 + O_ID]!);
    for (const s of slots) this.cancelSlot(s, reason);
  }

  private allOpenSlots(): number[] {
    const out: number[] = [];
    this.mergePending(BUY);
    this.mergePending(SELL);
    for (const sb of [this.bids, this.asks]) {
      for (let i = 0; i < sb.n; i++) {
        for (let s = this.a.LI[sb.lvls[i]! * 16 + L_HEAD]!; s !== NIL; s = this.a.I[s * 32 + O_NEXT]!)
          out.push(s);
      }
    }
    for (let s = this.stopHead; s !== NIL; s = this.a.I[s * 32 + O_NEXT]!) out.push(s);
    return out;
  }

  // =================================================================== indexes

  private index(o: number): void {
    this.a.U[o * 128 + O_INDEXED] = 1;
    this.openCount++;
    this.a.byId.set(this.a.F[o * 16 + O_ID]!, o + this.marketId * 4294967296, this.a.I[o * 32 + O_LEVEL]!);
    if (this.a.oCid[o] !== "") this.cidInsert(o);
    // At the head: touches one other order (a tail insert would read the head to find the tail).
    const acc = this.a.I[o * 32 + O_ACC]!;
    const h = this.accHead.get(acc);
    this.a.I[o * 32 + O_ACCPREV] = NIL;
    if (h === undefined) this.a.I[o * 32 + O_ACCNEXT] = NIL;
    else {
      this.a.I[o * 32 + O_ACCNEXT] = h;
      this.a.I[h * 32 + O_ACCPREV] = o;
    }
    this.accHead.set(acc, o);
  }

  private unindex(o: number): void {
    this.a.U[o * 128 + O_INDEXED] = 0;
    this.openCount--;
    this.a.byId.delete(this.a.F[o * 16 + O_ID]!);
    if (this.a.oCid[o] !== "") this.cidRemove(o);
    const n = this.a.I[o * 32 + O_ACCNEXT]!;
    const p = this.a.I[o * 32 + O_ACCPREV]!;
    if (n !== NIL) this.a.I[n * 32 + O_ACCPREV] = p;
    if (p !== NIL) this.a.I[p * 32 + O_ACCNEXT] = n;
    else if (n === NIL) this.accHead.delete(this.a.I[o * 32 + O_ACC]!);
    else this.accHead.set(this.a.I[o * 32 + O_ACC]!, n);
  }

  private cidInsert(o: number): void {
    const cid = this.a.oCid[o]!;
    const h = this.byCid.get(cid);
    this.a.oCidNext[o] = h === undefined ? NIL : h;
    this.byCid.set(cid, o);
  }

  private cidRemove(o: number): void {
    const cid = this.a.oCid[o]!;
    const h = this.byCid.get(cid)!;
    if (h === o) {
      const n = this.a.oCidNext[o]!;
      if (n === NIL) this.byCid.delete(cid);
      else this.byCid.set(cid, n);
      return;
    }
    let p = h;
    while (this.a.oCidNext[p] !== o) p = this.a.oCidNext[p]!;
    this.a.oCidNext[p] = this.a.oCidNext[o]!;
  }

  private findCid(account: number, cid: string): number {
    const h = this.byCid.get(cid);
    if (h === undefined) return NIL;
    for (let s = h; s !== NIL; s = this.a.oCidNext[s]!) if (this.a.I[s * 32 + O_ACC] === account) return s;
    return NIL;
  }

  private find(account: number, orderId: number, cid: string): number {
    const o = orderId !== 0 ? this.slotOf(orderId) : cid !== "" ? this.findCid(account, cid) : NIL;
    return o !== NIL && this.a.I[o * 32 + O_ACC] === account ? o : NIL;
  }

  /** The slot of an open order of THIS book, or NIL. */
  private slotOf(orderId: number): number {
    const a = this.a;
    const e = a.byId.probe(orderId);
    if (e < 0) return NIL;
    // The entry is slot + 2^32 × owning market (integers: no boxed double field on the book).
    const v = a.byId.kv[e + 1]!;
    if (((v / 4294967296) | 0) !== this.marketId) return NIL;
    // Load the order's level (the entry's hint; stale after an unlink, NIL/IN_STOPS when not
    // resting) now: its cache miss then overlaps the order slot's instead of following it.
    const lv = a.byId.kv[e + 2]!;
    if (lv >= 0 && a.prefetch) a.sink = a.LI[lv * 16 + L_COUNT]!;
    return v >>> 0;
  }

  // =================================================================== pool

  private alloc(): number {
    return this.a.alloc();
  }

  /** Ends an order: drops it from the indexes and returns the slot to the pool. */
  private release(o: number): void {
    if (this.a.U[o * 128 + O_INDEXED] === 1) this.unindex(o);
    this.a.free[this.a.freeTop++] = o;
  }

  // =================================================================== depth deltas

  /** Records a level's quantity before its first change in this command. */
  private touch(lv: number): void {
    if (this.a.LF[lv * 8 + L_STAMP] === this.cmdNo) return;
    this.a.LF[lv * 8 + L_STAMP] = this.cmdNo;
    let n = this.a.dN;
    if (n === this.a.dSide.length) {
      const c = n * 2;
      const s = new Uint8Array(c);
      s.set(this.a.dSide);
      this.a.dSide = s;
      const p = new Float64Array(c);
      p.set(this.a.dPrice);
      this.a.dPrice = p;
      const b = new Float64Array(c);
      b.set(this.a.dBefore);
      this.a.dBefore = b;
      const l = new Int32Array(c);
      l.set(this.a.dLevel);
      this.a.dLevel = l;
      this.a.dOrder = new Int32Array(c);
    }
    this.a.dSide[n] = this.a.LI[lv * 16 + L_SIDE]!;
    this.a.dPrice[n] = this.a.LF[lv * 8 + L_PRICE]!;
    this.a.dBefore[n] = this.a.LF[lv * 8 + L_QTY]!;
    this.a.dLevel[n] = lv;
    this.a.dN = ++n;
  }

  private flushDepth(): void {
    const n = this.a.dN;
    this.cmdNo++;
    if (n === 0) return;
    this.a.dN = 0;
    const ord = this.a.dOrder;
    const dS = this.a.dSide;
    const dP = this.a.dPrice;
    // Insertion sort of entry indices by (side, best-first price, insertion order).
    ord[0] = 0;
    for (let i = 1; i < n; i++) {
      let j = i;
      while (j > 0) {
        const a = ord[j - 1]!;
        const sa = dS[a]!;
        const sb = dS[i]!;
        let after: boolean;
        if (sa !== sb) after = sa > sb;
        else if (dP[a] === dP[i]) after = false;
        else after = sa === BUY ? dP[a]! < dP[i]! : dP[a]! > dP[i]!;
        if (!after) break;
        ord[j] = a;
        j--;
      }
      ord[j] = i;
    }
    const bb = this.a.bidBuf;
    const ab = this.a.askBuf;
    bb.count = 0;
    ab.count = 0;
    const dL = this.a.dLevel;
    for (let k = 0; k < n; ) {
      const e = ord[k]!;
      const side = dS[e]!;
      const price = dP[e]!;
      // Entries for one (side, price) are adjacent, in touch order: the first holds the quantity
      // before the command, the last the level that holds the price now (if it is still alive).
      let lastE = e;
      k++;
      while (k < n && dS[ord[k]!] === side && dP[ord[k]!] === price) lastE = ord[k++]!;
      const lv = dL[lastE]!;
      const now =
        this.a.LI[lv * 16 + L_COUNT]! > 0 &&
        this.a.LF[lv * 8 + L_PRICE] === price &&
        this.a.LI[lv * 16 + L_SIDE] === side
          ? this.a.LF[lv * 8 + L_QTY]!
          : 0;
      if (now === this.a.dBefore[e]) continue;
      const buf = side === BUY ? bb : ab;
      if (buf.count === buf.prices.length) {
        const p = new Float64Array(buf.count * 2);
        p.set(buf.prices);
        buf.prices = p;
        const q = new Float64Array(buf.count * 2);
        q.set(buf.quantities);
        buf.quantities = q;
      }
      buf.prices[buf.count] = price;
      buf.quantities[buf.count] = now;
      buf.count++;
    }
    const changed = bb.count + ab.count;
    if (changed === 0) return;
    const first = this.lastUpdateId + 1;
    this.lastUpdateId += changed;
    this.sink.depth(this.marketId, first, this.lastUpdateId, bb, ab);
  }

  // =================================================================== queries & snapshots

  bestBid(): number {
    return this.bidTop === NIL ? 0 : this.bidTopPx;
  }
  bestAsk(): number {
    return this.askTop === NIL ? 0 : this.askTopPx;
  }
  lastPrice(): number {
    return this.last;
  }
  levels(side: Side, max = Number.POSITIVE_INFINITY): LevelRecord[] {
    const sb = side === BUY ? this.bids : this.asks;
    this.mergePending(side);
    const out: LevelRecord[] = [];
    for (let i = sb.n - 1; i >= 0 && out.length < max; i--) {
      const lv = sb.lvls[i]!;
      if (this.a.LI[lv * 16 + L_COUNT] === 0) continue;
      out.push({
        price: this.a.LF[lv * 8 + L_PRICE]!,
        quantity: this.a.LF[lv * 8 + L_QTY]!,
        orders: this.a.LI[lv * 16 + L_COUNT]!,
      });
    }
    return out;
  }
  openOrders(): OrderRecord[] {
    return this.allOpenSlots()
      .sort((a, b) => this.a.F[a * 16 + O_SEQ]! - this.a.F[b * 16 + O_SEQ]!)
      .map((s) => this.record(s));
  }
  getOrder(orderId: number): OrderRecord | undefined {
    const s = this.slotOf(orderId);
    return s === NIL ? undefined : this.record(s);
  }
  openOrderCount(): number {
    return this.openCount;
  }

  private record(s: number): OrderRecord {
    return {
      orderId: this.a.F[s * 16 + O_ID]!,
      account: this.a.I[s * 32 + O_ACC]!,
      clientOrderId: this.a.oCid[s]!,
      side: this.a.U[s * 128 + O_SIDE] as Side,
      type: this.a.U[s * 128 + O_TYPE] as OrderType,
      timeInForce: this.a.U[s * 128 + O_TIF] as TimeInForce,
      price: this.a.F[s * 16 + O_PRICE]!,
      quantity: this.a.F[s * 16 + O_QTY]!,
      filledQuantity: this.a.F[s * 16 + O_FILLED]!,
      filledQuote: wideToBigInt(this.a.F[s * 16 + O_QHI]!, this.a.F[s * 16 + O_QLO]!).toString(),
      status: this.a.U[s * 128 + O_STATUS] as OrderStatus,
      stopPrice: this.a.F[s * 16 + O_STOP]!,
      stp: this.a.U[s * 128 + O_STP] as Stp,
      quoteOrderQty: this.a.F[s * 16 + O_QUOTEQTY]!,
      reserved: this.a.F[s * 16 + O_RESERVED]!,
      createdTimeMs: this.a.F[s * 16 + O_CREATED]!,
      seq: this.a.F[s * 16 + O_SEQ]!,
      leaves: this.a.F[s * 16 + O_LEAVES]!,
    };
  }

  snapshot(): BookSnapshot {
    const open = this.openOrders();
    return {
      version: 1,
      marketId: this.marketId,
      spec: { ...this.s },
      nextSeq: this.nextSeq,
      lastTradeId: this.lastTradeId,
      lastUpdateId: this.lastUpdateId,
      lastPrice: this.last,
      resting: open.filter((r) => !isStop(r.type) || r.status !== OrderStatus.PENDING_NEW),
      stops: open.filter((r) => isStop(r.type) && r.status === OrderStatus.PENDING_NEW),
    };
  }

  static restore(snap: BookSnapshot, sink: BookSink, opts: FastBookOptions = {}): FastBook {
    if (snap.version !== 1) throw new Error(`unsupported snapshot version ${snap.version}`);
    const n = snap.resting.length + snap.stops.length;
    const b = new FastBook(snap.marketId, snap.spec, sink, {
      initialOrders: Math.max(opts.initialOrders ?? 64, n + 16),
      ...(opts.arena ? { arena: opts.arena } : {}),
    });
    const load = (r: OrderRecord): number => {
      const o = b.alloc();
      b.a.F[o * 16 + O_ID] = r.orderId;
      b.a.I[o * 32 + O_ACC] = r.account;
      b.a.oCid[o] = r.clientOrderId;
      b.a.U[o * 128 + O_SIDE] = r.side;
      b.a.U[o * 128 + O_TYPE] = r.type;
      b.a.U[o * 128 + O_TIF] = r.timeInForce;
      b.a.U[o * 128 + O_STP] = r.stp;
      b.a.U[o * 128 + O_STATUS] = r.status;
      b.a.U[o * 128 + O_INDEXED] = 0;
      b.a.F[o * 16 + O_PRICE] = r.price;
      b.a.F[o * 16 + O_QTY] = r.quantity;
      b.a.F[o * 16 + O_FILLED] = r.filledQuantity;
      b.a.F[o * 16 + O_LEAVES] = r.leaves;
      const q = BigInt(r.filledQuote);
      b.a.F[o * 16 + O_QHI] = Number(q / 4503599627370496n);
      b.a.F[o * 16 + O_QLO] = Number(q % 4503599627370496n);
      b.a.F[o * 16 + O_STOP] = r.stopPrice;
      b.a.F[o * 16 + O_QUOTEQTY] = r.quoteOrderQty;
      b.a.F[o * 16 + O_RESERVED] = r.reserved;
      b.a.F[o * 16 + O_CREATED] = r.createdTimeMs;
      return o;
    };
    for (const r of snap.resting) {
      const o = load(r);
      b.rest(o);
      b.a.F[o * 16 + O_SEQ] = r.seq;
    }
    for (const r of snap.stops) {
      const o = load(r);
      b.addStop(o);
      b.a.F[o * 16 + O_SEQ] = r.seq;
    }
    b.nextSeq = snap.nextSeq;
    b.lastTradeId = snap.lastTradeId;
    b.lastUpdateId = snap.lastUpdateId;
    b.last = snap.lastPrice;
    b.a.dN = 0; // restoring is not a command: no depth delta
    b.cmdNo++;
    return b;
  }
}
