/**
 * The int64 quote cap. An order's cumulative quote (filledQuote = Σ price × quantity over its fills)
 * is an int64 on the wire. Where the bound is known up front the order is rejected (MAX_NOTIONAL,
 * see book.test.ts); where it depends on the book — a MARKET order by quantity on a market without a
 * max price, a SELL that fills far above its limit, a triggered stop — the book stops the order at
 * the cap instead (README "Quote cap"). Every test runs on both books; the last one drives the shard
 * processor (the encoder throws beyond int64, and a throw in a shard replays forever).
 */
import { ExecutionEvent, OrderCommand, OrderType, Side, TimeInForce } from "@excraft/proto";
import { eventPayloads } from "@excraft/proto/records";
import { usdtMarketSpec } from "@excraft/testkit";
import { beforeEach, describe, expect, it } from "vitest";
import type { OrderBook, PlaceCommand, ReplaceCommand } from "../src/book/types.ts";
import { ShardProcessor } from "../src/service/shard-processor.ts";
import { type Ev, KINDS, makeBook, type OrderRec, order, type Recorder, resetIds, spec } from "./helpers.ts";

const INT64_MAX = 2n ** 63n - 1n;
const P = 2 ** 50; // with Q: one maker's notional is 2^62, two of them about 2^63
const Q = 2 ** 12;
const B = 2 ** 52; // with 2047: one maker's notional is 2^63 − 2^52, the most that fits at B
const n = (price: number, qty: number) => BigInt(price) * BigInt(qty);
/** The largest multiple of `step` that price can add to `quote` without passing 2^63 − 1. */
const fit = (quote: bigint, price: number, step = 1) => {
  const q = Number((INT64_MAX - quote) / BigInt(price));
  return q - (q % step);
};

const kinds = (e: Ev[]) => e.map((x) => x.k);
const ofKind = <K extends Ev["k"]>(e: Ev[], k: K) => e.filter((x): x is Extract<Ev, { k: K }> => x.k === k);
const fills = (e: Ev[]) => ofKind(e, "trade").map((x) => [x.price, x.qty]);
/** Every order state an event carries. */
const states = (e: Ev[]): OrderRec[] =>
  e.flatMap((x) =>
    x.k === "trade" ? [x.maker, x.taker] : x.k === "replaced" ? [x.old, x.new] : "o" in x ? [x.o] : [],
  );

describe.each(KINDS)("%s book: cumulative quote stays within int64", (kind) => {
  let book: OrderBook;
  let rec: Recorder;
  let t = 0;
  let seen: Ev[] = [];
  const place = (over: Partial<PlaceCommand>) => {
    book.place(order(over), ++t);
    const ev = rec.take();
    seen.push(...ev);
    return ev;
  };
  const replace = (over: Partial<ReplaceCommand>) => {
    book.replace(
      {
        account: 1,
        orderId: 0,
        clientOrderId: "",
        newOrderId: 0,
        newClientOrderId: "",
        newPrice: 0,
        newQuantity: 0,
        ...over,
      },
      ++t,
    );
    const ev = rec.take();
    seen.push(...ev);
    return ev;
  };
  beforeEach(() => {
    resetIds();
    ({ book, rec } = makeBook(kind)); // maxPrice 0: no upper price bound
    t = 0;
    seen = [];
  });
  // Whatever the test checks, no order state ever carries a quote beyond int64.
  const allWithinInt64 = () => {
    expect(seen.length).toBeGreaterThan(0);
    for (const o of states(seen)) expect(BigInt(o.filledQuote)).toBeLessThanOrEqual(INT64_MAX);
    for (const o of book.openOrders()) expect(BigInt(o.filledQuote)).toBeLessThanOrEqual(INT64_MAX);
  };

  describe("MARKET by quantity", () => {
    it("a BUY sweeping huge asks stops before the fill that would pass 2^63 − 1; the rest expires", () => {
      for (const price of [P, P + 1, P + 2]) place({ account: 2, side: 2, price, quantity: Q });
      const ev = place({ side: 1, type: 2, price: 0, quantity: 3 * Q });
      const second = fit(n(P, Q), P + 1);
      expect(second).toBeGreaterThan(0);
      expect(second).toBeLessThan(Q);
      expect(kinds(ev)).toEqual(["accepted", "trade", "trade", "expired", "depth"]);
      expect(fills(ev)).toEqual([
        [P, Q],
        [P + 1, second],
      ]);
      expect(ofKind(ev, "expired")[0]).toMatchObject({
        reason: "MAX_NOTIONAL",
        o: {
          status: 6,
          filledQuantity: Q + second,
          filledQuote: (n(P, Q) + n(P + 1, second)).toString(),
        },
      });
      expect(book.levels(2)).toEqual([
        { price: P + 1, quantity: Q - second, orders: 1 },
        { price: P + 2, quantity: Q, orders: 1 },
      ]);
      allWithinInt64();
    });

    it("the cut fill is whole steps", () => {
      ({ book, rec } = makeBook(kind, spec({ stepSize: 10, minQty: 10 })));
      for (let i = 0; i < 3; i++) place({ account: 2, side: 2, price: P, quantity: 4000 });
      const ev = place({ side: 1, type: 2, price: 0, quantity: 12_000 });
      const third = fit(n(P, 8000), P, 10);
      expect(third % 10).toBe(0);
      expect(third).toBeGreaterThan(0);
      expect(fills(ev)).toEqual([
        [P, 4000],
        [P, 4000],
        [P, third],
      ]);
      expect(ofKind(ev, "expired")[0]!.reason).toBe("MAX_NOTIONAL");
      allWithinInt64();
    });

    it("a SELL sweeping huge bids stops the same way", () => {
      for (const price of [P, P + 1, P + 2]) place({ account: 2, side: 1, price, quantity: Q });
      const ev = place({ side: 2, type: 2, price: 0, quantity: 3 * Q });
      expect(fills(ev)).toEqual([
        [P + 2, Q],
        [P + 1, fit(n(P + 2, Q), P + 1)],
      ]);
      expect(ofKind(ev, "expired")[0]!.reason).toBe("MAX_NOTIONAL");
      allWithinInt64();
    });

    it("stops without a fill when not one step fits at the next price", () => {
      place({ account: 2, side: 2, price: P, quantity: Q });
      place({ account: 2, side: 2, price: P, quantity: Q - 1 });
      place({ account: 2, side: 2, price: B, quantity: 1 });
      const ev = place({ side: 1, type: 2, price: 0, quantity: 2 * Q });
      expect(fills(ev)).toEqual([
        [P, Q],
        [P, Q - 1],
      ]);
      expect(ofKind(ev, "expired")[0]).toMatchObject({
        reason: "MAX_NOTIONAL",
        o: { filledQuantity: 2 * Q - 1 },
      });
      expect(book.levels(2)).toEqual([{ price: B, quantity: 1, orders: 1 }]);
      allWithinInt64();
    });
  });

  describe("orders by quote budget never reach the cap (the budget is below 2^53)", () => {
    const budget = Number.MAX_SAFE_INTEGER;
    it("MARKET BUY and SELL by quoteOrderQty, MARKET BUY bounded by its reserve", () => {
      for (let i = 0; i < 3; i++) place({ account: 2, side: 2, price: P, quantity: Q });
      for (let i = 0; i < 3; i++) place({ account: 2, side: 1, price: P - 1, quantity: Q });
      const spend = Math.floor(budget / P); // 7 at 2^50
      const buy = place({ side: 1, type: 2, price: 0, quantity: 0, quoteOrderQty: budget });
      expect(fills(buy)).toEqual([[P, spend]]);
      expect(ofKind(buy, "expired")[0]).toMatchObject({
        reason: "BUDGET",
        o: { filledQuote: String(P * spend) },
      });
      const sell = place({ side: 2, type: 2, price: 0, quantity: 0, quoteOrderQty: budget });
      expect(fills(sell)).toEqual([[P - 1, Math.floor(budget / (P - 1))]]);
      expect(ofKind(sell, "expired")[0]!.reason).toBe("BUDGET");
      const reserved = place({ side: 1, type: 2, price: 0, quantity: 3 * Q, reserved: budget });
      expect(fills(reserved)).toEqual([[P, spend]]);
      expect(ofKind(reserved, "expired")[0]!.reason).toBe("BUDGET");
      allWithinInt64();
    });
  });

  describe("stop orders, after triggering", () => {
    it("STOP_LOSS BUY executes as MARKET and stops at the cap", () => {
      for (const price of [P, P + 1, P + 2]) place({ account: 2, side: 2, price, quantity: Q });
      expect(
        ofKind(place({ side: 1, type: 4, price: 0, stopPrice: P, quantity: 3 * Q }), "accepted"),
      ).toHaveLength(1);
      const ev = place({ account: 3, side: 1, price: P, quantity: 1 }); // last = P: triggers
      expect(kinds(ev)).toEqual(["accepted", "trade", "triggered", "trade", "trade", "expired", "depth"]);
      // P·(Q−1) + (P+1)·Q = 2^63 − 2^50 + 2^12 fits; not one unit more at P + 2.
      expect(fills(ev).slice(1)).toEqual([
        [P, Q - 1],
        [P + 1, Q],
      ]);
      expect(fit(n(P, Q - 1) + n(P + 1, Q), P + 2)).toBe(0);
      expect(ofKind(ev, "expired")[0]).toMatchObject({
        reason: "MAX_NOTIONAL",
        o: { type: 4, filledQuantity: 2 * Q - 1 },
      });
      expect(book.levels(2)).toEqual([{ price: P + 2, quantity: Q, orders: 1 }]);
      allWithinInt64();
    });

    it("TAKE_PROFIT SELL executes as MARKET and stops at the cap", () => {
      for (const price of [P, P + 1, P + 2]) place({ account: 2, side: 1, price, quantity: Q });
      place({ side: 2, type: 6, price: 0, stopPrice: P + 2, quantity: 3 * Q });
      const ev = place({ account: 3, side: 2, price: P + 2, quantity: 1 }); // last = P + 2: triggers
      expect(fills(ev).slice(1)).toEqual([
        [P + 2, Q - 1],
        [P + 1, Q],
      ]);
      expect(fit(n(P + 2, Q - 1) + n(P + 1, Q), P)).toBe(0);
      expect(ofKind(ev, "expired")[0]).toMatchObject({ reason: "MAX_NOTIONAL", o: { type: 6 } });
      allWithinInt64();
    });
  });

  describe("limit orders that fill above their limit price (SELL)", () => {
    beforeEach(() => {
      place({ account: 2, side: 1, price: B, quantity: 2047 });
      place({ account: 3, side: 1, price: B, quantity: 2047 });
    });

    it("a SELL LIMIT GTC stops at the cap and its remainder expires instead of resting across the book", () => {
      const ev = place({ side: 2, price: 1, quantity: 4094 });
      expect(fills(ev)).toEqual([[B, 2047]]);
      expect(ofKind(ev, "expired")[0]).toMatchObject({
        reason: "MAX_NOTIONAL",
        o: { status: 6, filledQuantity: 2047, filledQuote: n(B, 2047).toString() },
      });
      expect(book.bestAsk()).toBe(0);
      expect(book.levels(1)).toEqual([{ price: B, quantity: 2047, orders: 1 }]);
      allWithinInt64();
    });

    it("an IOC does the same", () => {
      const ev = place({ side: 2, price: 1, quantity: 4094, timeInForce: 2 });
      expect(fills(ev)).toEqual([[B, 2047]]);
      expect(ofKind(ev, "expired")[0]!.reason).toBe("MAX_NOTIONAL");
      allWithinInt64();
    });

    it("a remainder whose value at the limit price would pass the cap later expires; one that fits rests", () => {
      book.cancel({ account: 3, orderId: 2, clientOrderId: "" }, ++t);
      rec.take();
      // 2047 at 2^52, then 2^20 − 2047 more at 2^40 as a maker: ~2^63 + 2^60.
      const tooMuch = place({ side: 2, price: 2 ** 40, quantity: 2 ** 20 });
      expect(fills(tooMuch)).toEqual([[B, 2047]]);
      expect(ofKind(tooMuch, "expired")[0]).toMatchObject({
        reason: "MAX_NOTIONAL",
        o: { filledQuantity: 2047 },
      });
      expect(book.bestAsk()).toBe(0);
      // 2^30 × the remainder fits in the 2^52 − 1 left: it rests, and can fill completely later.
      place({ account: 2, side: 1, price: B, quantity: 2047 });
      const fits = place({ side: 2, price: 2 ** 30, quantity: 2 ** 20 });
      expect(kinds(fits)).toEqual(["accepted", "trade", "depth"]);
      expect(book.levels(2)).toEqual([{ price: 2 ** 30, quantity: 2 ** 20 - 2047, orders: 1 }]);
      const taker = place({ account: 3, side: 1, price: 2 ** 30, quantity: 2 ** 20 - 2047 });
      expect(ofKind(taker, "trade")[0]!.maker).toMatchObject({
        status: 3,
        filledQuote: (n(B, 2047) + n(2 ** 30, 2 ** 20 - 2047)).toString(),
      });
      allWithinInt64();
    });

    it("a FOK fills completely within the cap or expires without trading", () => {
      place({ account: 4, side: 1, price: B - 1, quantity: 2047 }); // a second level
      const no = place({ side: 2, price: 1, quantity: 4094, timeInForce: 3 });
      expect(kinds(no)).toEqual(["accepted", "expired"]);
      expect(ofKind(no, "expired")[0]!.reason).toBe("FOK");
      const noAcrossLevels = place({ side: 2, price: 1, quantity: 4100, timeInForce: 3 });
      expect(kinds(noAcrossLevels)).toEqual(["accepted", "expired"]);
      const yes = place({ side: 2, price: 1, quantity: 2047, timeInForce: 3 });
      expect(kinds(yes)).toEqual(["accepted", "trade", "depth"]);
      expect(ofKind(yes, "trade")[0]!.taker).toMatchObject({ status: 3, filledQuote: n(B, 2047).toString() });
      allWithinInt64();
    });

    it("a replace that re-enters as a taker is capped the same way", () => {
      place({ orderId: 90, side: 2, price: B + 1, quantity: 1 });
      const ev = replace({ orderId: 90, newPrice: 1, newQuantity: 4094 });
      expect(kinds(ev)).toEqual(["replaced", "trade", "expired", "depth"]);
      expect(fills(ev)).toEqual([[B, 2047]]);
      expect(ofKind(ev, "expired")[0]!.reason).toBe("MAX_NOTIONAL");
      expect(book.bestAsk()).toBe(0);
      allWithinInt64();
    });
  });
});

describe("the shard processor encodes a capped sweep (no int64 overflow, no throw)", () => {
  it.each(KINDS)("%s book", (bookKind) => {
    const commands: OrderCommand[] = [
      {
        commandId: "m",
        timeMs: 1n,
        symbol: "BIGUSDT",
        command: { $case: "addMarket", value: { spec: usdtMarketSpec("BIG") } },
      },
    ];
    const placeCommand = (
      id: number,
      accountId: string,
      side: Side,
      type: OrderType,
      price: number,
      quantity: number,
    ): OrderCommand => ({
      commandId: `c${id}`,
      timeMs: BigInt(id),
      symbol: "BIGUSDT",
      command: {
        $case: "place",
        value: {
          orderId: BigInt(id),
          accountId,
          clientOrderId: "",
          side,
          type,
          timeInForce: type === OrderType.LIMIT ? TimeInForce.GTC : TimeInForce.UNSPECIFIED,
          price: BigInt(price),
          quantity: BigInt(quantity),
          quoteOrderQty: 0n,
          stopPrice: 0n,
          selfTradePrevention: 0,
          reserved: 0n,
        },
      },
    });
    for (const [i, price] of [P, P + 1, P + 2].entries())
      commands.push(placeCommand(1 + i, "maker", Side.SELL, OrderType.LIMIT, price, Q));
    commands.push(placeCommand(10, "taker", Side.BUY, OrderType.MARKET, 0, 3 * Q));
    const processor = new ShardProcessor({ shard: 0, epoch: 1n, bookKind });
    // Before the cap, the taker's quote passed int64 and writing its fill threw (on every replay).
    for (const [i, c] of commands.entries()) processor.apply(BigInt(i), OrderCommand.encode(c).finish());
    const events = processor
      .drain()
      .executions.flatMap((r) => eventPayloads(r.value))
      .map((bytes) => ExecutionEvent.decode(bytes));
    const expired = events.flatMap((e) => (e.event?.$case === "expired" ? [e.event.value] : []));
    expect(expired).toHaveLength(1);
    expect(expired[0]!.reason).toBe("MAX_NOTIONAL");
    expect(expired[0]!.order!.filledQuote).toBe(n(P, Q) + n(P + 1, fit(n(P, Q), P + 1)));
    for (const e of events) {
      const v = e.event?.value as Record<string, unknown> | undefined;
      for (const key of ["order", "maker", "taker"]) {
        const o = v?.[key] as { filledQuote: bigint } | undefined;
        if (o !== undefined) expect(o.filledQuote).toBeLessThanOrEqual(INT64_MAX);
      }
    }
  });
});
