/**
 * Random command sequences: the fast book against the reference book (the oracle).
 * Both must emit identical events and end in identical state (their snapshots are compared after
 * every command); invariants are checked after every command; restore(snapshot()) must continue
 * identically. Runs are bounded to keep the suite fast on a shared 2-core machine.
 */
import type { MarketSpec, MarketStatus, OrderType, Side, Stp, TimeInForce } from "@excraft/domain";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { BookArena, FastBook } from "../src/book/fast-book.ts";
import { ReferenceBook } from "../src/book/reference/reference-book.ts";
import type { BookSnapshot, OrderBook, PlaceCommand } from "../src/book/types.ts";
import { type Ev, Recorder, spec } from "./helpers.ts";

type Op =
  | {
      t: "place";
      type: number;
      side: number;
      tif: number;
      price: number;
      qty: number;
      quote: number;
      stop: number;
      stp: number;
      account: number;
      cid: number;
      dupId: boolean;
      reserved: number;
    }
  | { t: "cancel"; pick: number; byCid: boolean; wrongAccount: boolean }
  | {
      t: "replace";
      pick: number;
      dPrice: number;
      qty: number;
      newId: boolean;
      newCid: number;
      byCid: boolean;
    }
  | { t: "mass"; account: number }
  | { t: "status"; status: number }
  | { t: "filters"; tick: number; step: number };

const priceArb = fc.oneof(
  { weight: 20, arbitrary: fc.integer({ min: 92, max: 108 }) },
  { weight: 1, arbitrary: fc.constantFrom(0, -5, 100.5, 2 ** 53) },
);

const typeArb = (market: number) =>
  fc.oneof(
    { weight: 30, arbitrary: fc.constant(1) },
    { weight: market, arbitrary: fc.constant(2) },
    { weight: 6, arbitrary: fc.constant(3) },
    { weight: 12, arbitrary: fc.integer({ min: 4, max: 7 }) },
    { weight: 1, arbitrary: fc.constantFrom(0, 9) },
  );

/** Place ops; prices, quantities, stop prices and quote amounts from the given arbitraries. */
const placeArbWith = (
  price: fc.Arbitrary<number>,
  qty: fc.Arbitrary<number>,
  stop: fc.Arbitrary<number>,
  quote: fc.Arbitrary<number>,
  reserved: fc.Arbitrary<number>,
  type: fc.Arbitrary<number> = typeArb(9),
): fc.Arbitrary<Op> =>
  fc.record({
    t: fc.constant("place" as const),
    type,
    side: fc.oneof(
      { weight: 100, arbitrary: fc.constantFrom(1, 2) },
      { weight: 1, arbitrary: fc.constant(0) },
    ),
    tif: fc.oneof(
      { weight: 60, arbitrary: fc.constantFrom(1, 1, 1, 2, 3) },
      { weight: 1, arbitrary: fc.constant(0) },
    ),
    price,
    qty,
    quote,
    stop,
    stp: fc.oneof(
      { weight: 60, arbitrary: fc.integer({ min: 0, max: 4 }) },
      { weight: 1, arbitrary: fc.constant(7) },
    ),
    account: fc.integer({ min: 1, max: 3 }),
    cid: fc.integer({ min: 0, max: 6 }),
    dupId: fc.constant(false),
    reserved,
  });

const placeArb = placeArbWith(
  priceArb,
  fc.oneof(
    { weight: 20, arbitrary: fc.integer({ min: 1, max: 12 }) },
    { weight: 1, arbitrary: fc.constantFrom(0, 45, 3.5) },
  ),
  fc.integer({ min: 90, max: 110 }),
  fc.oneof(
    { weight: 4, arbitrary: fc.constant(0) },
    { weight: 1, arbitrary: fc.integer({ min: 150, max: 3000 }) },
  ),
  fc.oneof(
    { weight: 3, arbitrary: fc.constant(0) },
    { weight: 1, arbitrary: fc.integer({ min: 100, max: 2000 }) },
  ),
);

/**
 * Near the int64 quote cap (README "Quote cap"): prices around 2^50 and 2^52 (where two fills pass
 * 2^63) and tiny ones (SELLs far below the bids), on a market without a max price or quantity.
 */
const near = (x: number) => fc.integer({ min: x - 4, max: x + 4 });
const hugePlaceArb = placeArbWith(
  fc.oneof(near(2 ** 50), near(2 ** 52), fc.integer({ min: 1, max: 8 })),
  fc.oneof(
    { weight: 3, arbitrary: fc.integer({ min: 1500, max: 2047 }) }, // up to 2^63 − 2^52 at 2^52
    { weight: 2, arbitrary: fc.integer({ min: 2048, max: 4096 }) }, // up to 2^62 at 2^50
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 12 }) },
  ),
  fc.oneof(near(2 ** 50), near(2 ** 52)),
  fc.oneof(
    { weight: 4, arbitrary: fc.constant(0) },
    { weight: 1, arbitrary: fc.integer({ min: 2 ** 50, max: Number.MAX_SAFE_INTEGER }) },
  ),
  fc.oneof(
    { weight: 3, arbitrary: fc.constant(0) },
    { weight: 1, arbitrary: fc.integer({ min: 2 ** 50, max: Number.MAX_SAFE_INTEGER }) },
  ),
  typeArb(15),
).map((op) => {
  // Tiny prices only for SELLs that do not rest: a resting tiny ask would take every later BUY.
  if (op.t !== "place" || op.price > 8) return op;
  return op.side === 1 ? { ...op, price: 2 ** 50 + op.price } : { ...op, tif: op.tif === 1 ? 2 : op.tif };
});

const opArbWith = (place: fc.Arbitrary<Op>): fc.Arbitrary<Op> =>
  fc.oneof(
    { weight: 60, arbitrary: place },
    { weight: 5, arbitrary: place.map((p) => ({ ...p, dupId: true }) as Op) },
    {
      weight: 15,
      arbitrary: fc.record({
        t: fc.constant("cancel" as const),
        pick: fc.nat(1000),
        byCid: fc.boolean(),
        wrongAccount: fc.oneof(
          { weight: 8, arbitrary: fc.constant(false) },
          { weight: 1, arbitrary: fc.constant(true) },
        ),
      }),
    },
    {
      weight: 20,
      arbitrary: fc.record({
        t: fc.constant("replace" as const),
        pick: fc.nat(1000),
        dPrice: fc.oneof(
          { weight: 1, arbitrary: fc.constant(0) },
          { weight: 2, arbitrary: fc.integer({ min: -4, max: 4 }) },
        ),
        qty: fc.oneof(
          { weight: 1, arbitrary: fc.constant(0) },
          { weight: 3, arbitrary: fc.integer({ min: 1, max: 14 }) },
        ),
        newId: fc.boolean(),
        newCid: fc.integer({ min: 0, max: 8 }),
        byCid: fc.boolean(),
      }),
    },
    {
      weight: 4,
      arbitrary: fc.record({ t: fc.constant("mass" as const), account: fc.integer({ min: 1, max: 3 }) }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        t: fc.constant("status" as const),
        status: fc.constantFrom(1, 1, 1, 1, 1, 1, 2, 2, 3),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        t: fc.constant("filters" as const),
        tick: fc.constantFrom(1, 1, 1, 2),
        step: fc.constantFrom(1, 1, 1, 2),
      }),
    },
  );
const opArb = opArbWith(placeArb);
// Mostly places, so that big orders accumulate (cancels and replaces to small sizes thin the book).
const hugeOpArb = fc.oneof(
  { weight: 3, arbitrary: hugePlaceArb },
  { weight: 1, arbitrary: opArbWith(hugePlaceArb) },
);

const STATS: Map<string, number> | undefined = process.env.BOOK_STATS ? new Map() : undefined;
afterAll(() => {
  if (STATS !== undefined)
    console.log(
      [...STATS.entries()]
        .sort()
        .map(([k, v]) => `${k}=${v}`)
        .join("\n"),
    );
});

const MARKET = spec({ maxQty: 40, minNotional: 200 });
const HUGE_MARKET = spec(); // no max price, no max quantity
const INT64_MAX = 2n ** 63n - 1n;

/** Applies one generated op to a book; ids and targets are resolved from `view` (the oracle's state). */
function apply(
  book: OrderBook,
  op: Op,
  view: OrderBook,
  time: number,
  idBase: number,
  market: MarketSpec = MARKET,
): void {
  const open = view.openOrders();
  const target = open.length === 0 ? undefined : open[(op as { pick?: number }).pick! % open.length];
  switch (op.t) {
    case "place": {
      const cmd: PlaceCommand = {
        orderId: op.dupId && open.length > 0 ? open[0]!.orderId : idBase,
        account: op.account,
        clientOrderId: op.cid === 0 ? "" : `c${op.cid}`,
        side: op.side as Side,
        type: op.type as OrderType,
        timeInForce: op.tif as TimeInForce,
        price: op.type === 1 || op.type === 3 || op.type === 5 || op.type === 7 ? op.price : 0,
        quantity: op.type === 2 && op.quote > 0 ? 0 : op.qty,
        quoteOrderQty: op.type === 2 ? op.quote : 0,
        stopPrice: op.type >= 4 && op.type <= 7 ? op.stop : 0,
        stp: op.stp as Stp,
        reserved: op.reserved,
      };
      book.place(cmd, time);
      return;
    }
    case "cancel": {
      const acc = target === undefined ? 1 : target.account + (op.wrongAccount ? 1 : 0);
      if (target !== undefined && op.byCid && target.clientOrderId !== "")
        book.cancel({ account: acc, orderId: 0, clientOrderId: target.clientOrderId }, time);
      else book.cancel({ account: acc, orderId: target?.orderId ?? 424242, clientOrderId: "" }, time);
      return;
    }
    case "replace": {
      const byCid = target !== undefined && op.byCid && target.clientOrderId !== "";
      book.replace(
        {
          account: target?.account ?? 1,
          orderId: byCid ? 0 : (target?.orderId ?? 424242),
          clientOrderId: byCid ? target!.clientOrderId : "",
          newOrderId: op.newId ? idBase : 0,
          newClientOrderId: op.newCid === 0 ? "" : `c${op.newCid}`,
          newPrice: op.dPrice === 0 || target === undefined ? 0 : Math.max(1, target.price + op.dPrice),
          newQuantity: op.qty,
        },
        time,
      );
      return;
    }
    case "mass":
      book.massCancel(op.account, time);
      return;
    case "status":
      book.setStatus(op.status as MarketStatus, time);
      return;
    case "filters":
      book.updateFilters({ ...market, tickSize: op.tick, stepSize: op.step });
      return;
  }
}

/** Invariants of a book after any command. */
function checkInvariants(book: OrderBook): void {
  const bb = book.bestBid();
  const ba = book.bestAsk();
  if (bb !== 0 && ba !== 0) expect(bb).toBeLessThan(ba);
  const open = book.openOrders();
  expect(book.openOrderCount()).toBe(open.length);
  for (const side of [1, 2] as const) {
    const lv = book.levels(side);
    for (let i = 1; i < lv.length; i++) {
      if (side === 1) expect(lv[i]!.price).toBeLessThan(lv[i - 1]!.price);
      else expect(lv[i]!.price).toBeGreaterThan(lv[i - 1]!.price);
    }
    for (const l of lv) {
      expect(l.quantity).toBeGreaterThan(0);
      const at = open.filter((o) => o.side === side && o.price === l.price && o.status !== 8);
      expect(at.length).toBe(l.orders);
      expect(at.reduce((s, o) => s + o.leaves, 0)).toBe(l.quantity);
    }
  }
  const ids = new Set<number>();
  for (const o of open) {
    expect(ids.has(o.orderId)).toBe(false);
    ids.add(o.orderId);
    expect(o.leaves).toBeGreaterThan(0);
    if (o.status === 8) continue; // pending stop
    expect(o.filledQuantity + o.leaves).toBe(o.quantity);
    expect(o.status).toBe(o.filledQuantity > 0 ? 2 : 1);
  }
  const cids = new Set(
    open.filter((o) => o.clientOrderId !== "").map((o) => `${o.account}/${o.clientOrderId}`),
  );
  expect(cids.size).toBe(open.filter((o) => o.clientOrderId !== "").length);
}

/** Per-event checks: trades are well-formed, fills add up, every quote fits the int64 it is sent as. */
function checkEvents(events: Ev[], fills: Map<number, { q: number; n: bigint }>): void {
  for (const e of events) {
    const states =
      e.k === "trade" ? [e.maker, e.taker] : e.k === "replaced" ? [e.old, e.new] : "o" in e ? [e.o] : [];
    for (const o of states) expect(BigInt(o.filledQuote)).toBeLessThanOrEqual(INT64_MAX);
    if (e.k === "accepted") fills.set(e.o.orderId, { q: 0, n: 0n });
    if (e.k === "replaced") fills.set(e.new.orderId, { q: 0, n: 0n });
    if (e.k !== "trade") continue;
    expect(e.qty).toBeGreaterThan(0);
    expect(e.maker.side).not.toBe(e.taker.side);
    expect(e.price).toBe(e.maker.price);
    expect(e.buyerIsMaker).toBe(e.maker.side === 1);
    for (const o of [e.maker, e.taker]) {
      const f = fills.get(o.orderId) ?? { q: 0, n: 0n };
      f.q += e.qty;
      f.n += BigInt(e.price) * BigInt(e.qty);
      fills.set(o.orderId, f);
      expect(o.filledQuantity).toBe(f.q);
      expect(o.filledQuote).toBe(f.n.toString());
      if (o.quantity > 0) expect(o.filledQuantity).toBeLessThanOrEqual(o.quantity);
    }
    const buyer = e.maker.side === 1 ? e.maker : e.taker;
    const seller = e.maker.side === 1 ? e.taker : e.maker;
    if (buyer.price > 0) expect(e.price).toBeLessThanOrEqual(buyer.price);
    if (seller.price > 0) expect(e.price).toBeGreaterThanOrEqual(seller.price);
  }
}

/** Expiries at the quote cap seen by `run` (the huge-price property checks it found some). */
let cappedExpiries = 0;

function run(ops: Op[], defaultStp: number, restoreAt: number, market: MarketSpec = MARKET): void {
  const s = { ...market, defaultStp: defaultStp as Stp };
  const rf = new Recorder();
  const rr = new Recorder();
  let fast: OrderBook = new FastBook(0, s, rf, { initialOrders: 16 });
  let ref: OrderBook = new ReferenceBook(0, s, rr);
  const fills = new Map<number, { q: number; n: bigint }>();
  let lastUpdate = 0;
  for (let i = 0; i < ops.length; i++) {
    if (i === restoreAt) {
      const snap = JSON.parse(JSON.stringify(fast.snapshot())) as BookSnapshot;
      fast = FastBook.restore(snap, rf, { initialOrders: 16 });
      ref = ReferenceBook.restore(JSON.parse(JSON.stringify(ref.snapshot())) as BookSnapshot, rr);
      expect(fast.snapshot()).toEqual(snap);
    }
    const op = ops[i]!;
    apply(fast, op, ref, 1000 + i, 1000 + i, market);
    apply(ref, op, ref, 1000 + i, 1000 + i, market);
    const ef = rf.take();
    const er = rr.take();
    expect(ef).toEqual(er);
    checkEvents(ef, fills);
    for (const e of ef) if (e.k === "expired" && e.reason === "MAX_NOTIONAL") cappedExpiries++;
    if (STATS !== undefined)
      for (const e of ef) {
        const k = `${e.k}${"reason" in e ? `:${e.reason}` : ""}${e.k === "replaced" ? `:${e.kept}` : ""}`;
        STATS.set(k, (STATS.get(k) ?? 0) + 1);
      }
    for (const e of ef) {
      if (e.k !== "depth") continue;
      expect(e.first).toBe(lastUpdate + 1);
      expect(e.last).toBe(lastUpdate + e.bids.length + e.asks.length);
      lastUpdate = e.last;
    }
    expect(fast.snapshot()).toEqual(ref.snapshot());
    checkInvariants(fast);
  }
}

/** Several fast books sharing one arena (as in an Engine shard) against independent reference books. */
function runShared(ops: [number, Op][], markets: number, prefetch = false): void {
  const rf = new Recorder();
  const rr = new Recorder();
  const arena = new BookArena(16);
  arena.prefetch = prefetch; // on by itself only once the pools are large
  const fast: OrderBook[] = [];
  const ref: OrderBook[] = [];
  for (let m = 0; m < markets; m++) {
    fast.push(new FastBook(m, { ...MARKET, symbol: `M${m}USDT` }, rf, { arena }));
    ref.push(new ReferenceBook(m, { ...MARKET, symbol: `M${m}USDT` }, rr));
  }
  for (let i = 0; i < ops.length; i++) {
    const [m, op] = ops[i]!;
    apply(fast[m]!, op, ref[m]!, 1000 + i, 1000 + i);
    apply(ref[m]!, op, ref[m]!, 1000 + i, 1000 + i);
    expect(rf.take()).toEqual(rr.take());
    expect(fast[m]!.snapshot()).toEqual(ref[m]!.snapshot());
  }
  for (let m = 0; m < markets; m++) checkInvariants(fast[m]!);
}

describe("fast book vs reference book (fast-check)", () => {
  it("books sharing one arena behave like independent books", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(2), opArb), { minLength: 1, maxLength: 200, size: "max" }),
        (ops) => runShared(ops, 3),
      ),
      { numRuns: 150 },
    );
  });

  it("the same with the early loads of large shards on", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(2), opArb), { minLength: 1, maxLength: 200, size: "max" }),
        (ops) => runShared(ops, 3, true),
      ),
      { numRuns: 150 },
    );
  });

  it("identical events, identical state, invariants hold", () => {
    fc.assert(
      fc.property(
        fc.array(opArb, { minLength: 1, maxLength: 120, size: "max" }),
        fc.integer({ min: 0, max: 4 }),
        (ops, stp) => run(ops, stp, -1),
      ),
      { numRuns: 1000 },
    );
  });

  it("restore(snapshot()) continues identically", () => {
    fc.assert(
      fc.property(
        fc.array(opArb, { minLength: 2, maxLength: 100, size: "max" }),
        fc.integer({ min: 0, max: 4 }),
        fc.nat(),
        (ops, stp, at) => run(ops, stp, 1 + (at % (ops.length - 1))),
      ),
      { numRuns: 400 },
    );
  });

  it("near the int64 quote cap (huge prices, no max price): identical, every quote within int64", () => {
    cappedExpiries = 0;
    fc.assert(
      fc.property(
        fc.array(hugeOpArb, { minLength: 1, maxLength: 100, size: "max" }),
        fc.integer({ min: 0, max: 4 }),
        fc.integer({ min: -1, max: 99 }),
        (ops, stp, at) => run(ops, stp, at > 0 && at < ops.length ? at : -1, HUGE_MARKET),
      ),
      { numRuns: 300 },
    );
    // The generator does reach the cap (about 20 expiries at it per 300 runs).
    expect(cappedExpiries).toBeGreaterThanOrEqual(5);
  });

  it("long sequences on a deep book", () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 300, maxLength: 600, size: "max" }), (ops) => run(ops, 0, -1)),
      { numRuns: 30 },
    );
  });
});
