/**
 * Unit tests of the order-book semantics. Every test runs against BOTH implementations (the fast
 * book and the reference book), so the semantics are pinned independently of the oracle comparison.
 */
import { beforeEach, describe, expect, it } from "vitest";
import type { OrderBook, PlaceCommand, ReplaceCommand } from "../src/book/types.ts";
import { type Ev, KINDS, makeBook, order, type Recorder, resetIds, spec } from "./helpers.ts";

const kinds = (e: Ev[]) => e.map((x) => x.k);
const ofKind = <K extends Ev["k"]>(e: Ev[], k: K) => e.filter((x): x is Extract<Ev, { k: K }> => x.k === k);
const rep = (over: Partial<ReplaceCommand>): ReplaceCommand => ({
  account: 1,
  orderId: 0,
  clientOrderId: "",
  newOrderId: 0,
  newClientOrderId: "",
  newPrice: 0,
  newQuantity: 0,
  ...over,
});

describe.each(KINDS)("%s book", (kind) => {
  let book: OrderBook;
  let rec: Recorder;
  let t = 0;
  const place = (over: Partial<PlaceCommand>) => {
    book.place(order(over), ++t);
    return rec.take();
  };
  beforeEach(() => {
    resetIds();
    ({ book, rec } = makeBook(kind));
    t = 0;
  });

  describe("LIMIT and priority", () => {
    it("rests a non-crossing GTC order and reports depth", () => {
      const ev = place({ side: 1, price: 100, quantity: 5 });
      expect(kinds(ev)).toEqual(["accepted", "depth"]);
      expect(ofKind(ev, "accepted")[0]!.o.status).toBe(1);
      expect(ofKind(ev, "depth")[0]).toMatchObject({ first: 1, last: 1, bids: [[100, 5]], asks: [] });
      expect(book.bestBid()).toBe(100);
    });

    it("matches at the maker price, in price then time priority", () => {
      place({ orderId: 10, account: 2, side: 2, price: 102, quantity: 3 });
      place({ orderId: 11, account: 3, side: 2, price: 101, quantity: 3 });
      place({ orderId: 12, account: 4, side: 2, price: 101, quantity: 3 });
      const ev = place({ orderId: 13, account: 1, side: 1, price: 102, quantity: 7 });
      const trades = ofKind(ev, "trade");
      expect(trades.map((x) => [x.maker.orderId, x.price, x.qty])).toEqual([
        [11, 101, 3],
        [12, 101, 3],
        [10, 102, 1],
      ]);
      expect(trades.map((x) => x.id)).toEqual([1, 2, 3]);
      expect(trades.every((x) => !x.buyerIsMaker)).toBe(true);
      const last = trades[2]!;
      expect(last.taker.status).toBe(3);
      expect(last.taker.filledQuote).toBe(String(101 * 6 + 102));
      expect(last.maker.status).toBe(2);
      expect(ofKind(ev, "depth")[0]).toMatchObject({
        bids: [],
        asks: [
          [101, 0],
          [102, 2],
        ],
      });
      expect(book.lastPrice()).toBe(102);
    });

    it("rests the remainder of a partially filled GTC order", () => {
      place({ account: 2, side: 2, price: 100, quantity: 4 });
      const ev = place({ side: 1, price: 101, quantity: 10 });
      expect(kinds(ev)).toEqual(["accepted", "trade", "depth"]);
      expect(book.levels(1)).toEqual([{ price: 101, quantity: 6, orders: 1 }]);
      expect(book.openOrders()[0]).toMatchObject({ status: 2, filledQuantity: 4, leaves: 6 });
    });

    it("keeps notionals exact beyond 2^53", () => {
      const big = spec({ tickSize: 1, stepSize: 1 });
      ({ book, rec } = makeBook(kind, big));
      const p = 3_000_000_000;
      const q = 2_000_000_000; // p*q = 6e18: past 2^53, within the int64 the engine emits
      place({ account: 2, side: 2, price: p, quantity: q });
      const ev = place({ side: 1, price: p, quantity: q });
      expect(ofKind(ev, "trade")[0]!.taker.filledQuote).toBe((BigInt(p) * BigInt(q)).toString());
    });
  });

  describe("time in force", () => {
    it("IOC fills what it can and expires the rest", () => {
      place({ account: 2, side: 2, price: 100, quantity: 4 });
      const ev = place({ side: 1, price: 100, quantity: 10, timeInForce: 2 });
      expect(kinds(ev)).toEqual(["accepted", "trade", "expired", "depth"]);
      expect(ofKind(ev, "expired")[0]).toMatchObject({ reason: "IOC", o: { status: 6, filledQuantity: 4 } });
      expect(book.bestBid()).toBe(0);
    });

    it("FOK expires without trading when it cannot fill completely", () => {
      place({ account: 2, side: 2, price: 100, quantity: 4 });
      place({ account: 2, side: 2, price: 102, quantity: 4 });
      const ev = place({ side: 1, price: 101, quantity: 5, timeInForce: 3 });
      expect(kinds(ev)).toEqual(["accepted", "expired"]);
      expect(ofKind(ev, "expired")[0]!.reason).toBe("FOK");
      expect(book.levels(2).map((l) => l.quantity)).toEqual([4, 4]);
    });

    it("FOK fills completely across levels when it can", () => {
      place({ account: 2, side: 2, price: 100, quantity: 4 });
      place({ account: 2, side: 2, price: 101, quantity: 4 });
      const ev = place({ side: 1, price: 101, quantity: 6, timeInForce: 3 });
      expect(kinds(ev)).toEqual(["accepted", "trade", "trade", "depth"]);
      expect(ofKind(ev, "trade")[1]!.taker.status).toBe(3);
    });

    it("FOK does not count makers that STP would expire", () => {
      place({ account: 1, side: 2, price: 100, quantity: 4 });
      place({ account: 2, side: 2, price: 100, quantity: 4 });
      const no = place({ account: 1, side: 1, price: 100, quantity: 6, timeInForce: 3, stp: 3 });
      expect(kinds(no)).toEqual(["accepted", "expired"]);
      const yes = place({ account: 1, side: 1, price: 100, quantity: 4, timeInForce: 3, stp: 3 });
      expect(kinds(yes)).toEqual(["accepted", "expired", "trade", "depth"]);
      expect(ofKind(yes, "expired")[0]).toMatchObject({ reason: "STP", o: { account: 1, status: 7 } });
    });
  });

  describe("MARKET", () => {
    it("by quantity sweeps levels and expires the unfilled rest", () => {
      place({ account: 2, side: 1, price: 99, quantity: 2 });
      place({ account: 2, side: 1, price: 98, quantity: 2 });
      const ev = place({ side: 2, type: 2, price: 0, quantity: 5 });
      expect(ofKind(ev, "trade").map((x) => [x.price, x.qty])).toEqual([
        [99, 2],
        [98, 2],
      ]);
      expect(ofKind(ev, "trade")[0]!.buyerIsMaker).toBe(true);
      expect(ofKind(ev, "expired")[0]).toMatchObject({ reason: "NO_LIQUIDITY", o: { filledQuantity: 4 } });
    });

    it("by quote budget buys floor(budget/price) per level, then expires the dust", () => {
      place({ account: 2, side: 2, price: 100, quantity: 3 });
      place({ account: 2, side: 2, price: 110, quantity: 10 });
      const ev = place({ side: 1, type: 2, price: 0, quantity: 0, quoteOrderQty: 600 });
      expect(ofKind(ev, "trade").map((x) => [x.price, x.qty])).toEqual([
        [100, 3],
        [110, 2],
      ]);
      const exp = ofKind(ev, "expired")[0]!;
      expect(exp.reason).toBe("BUDGET");
      expect(exp.o.filledQuote).toBe("520");
    });

    it("by quote budget reports FILLED when the budget is spent exactly", () => {
      place({ account: 2, side: 2, price: 100, quantity: 3 });
      const ev = place({ side: 1, type: 2, price: 0, quantity: 0, quoteOrderQty: 200 });
      expect(kinds(ev)).toEqual(["accepted", "trade", "depth"]);
      expect(ofKind(ev, "trade")[0]!.taker.status).toBe(3);
    });

    it("a MARKET buy by quantity is bounded by the reserved budget", () => {
      place({ account: 2, side: 2, price: 100, quantity: 10 });
      const ev = place({ side: 1, type: 2, price: 0, quantity: 10, reserved: 450 });
      expect(ofKind(ev, "trade")[0]!.qty).toBe(4);
      expect(ofKind(ev, "expired")[0]!.reason).toBe("BUDGET");
    });

    it("rejects quantity together with quoteOrderQty, and quoteOrderQty on a LIMIT", () => {
      expect(
        ofKind(place({ type: 2, price: 0, quantity: 1, quoteOrderQty: 100 }), "rejected")[0]!.reason,
      ).toBe("INVALID_QUOTE_QTY");
      expect(ofKind(place({ quoteOrderQty: 100 }), "rejected")[0]!.reason).toBe("INVALID_QUOTE_QTY");
    });
  });

  describe("LIMIT_MAKER", () => {
    it("is rejected when it would take, rests otherwise", () => {
      place({ account: 2, side: 2, price: 101, quantity: 1 });
      const bad = place({ side: 1, type: 3, price: 101, quantity: 1 });
      expect(ofKind(bad, "rejected")[0]).toMatchObject({ reason: "WOULD_TAKE", o: { status: 5 } });
      const ok = place({ side: 1, type: 3, price: 100, quantity: 1 });
      expect(kinds(ok)).toEqual(["accepted", "depth"]);
    });
  });

  describe("stop orders (Binance trigger directions, last trade price)", () => {
    const trade = (price: number) => {
      place({ account: 8, side: 2, price, quantity: 1 });
      place({ account: 9, side: 1, price, quantity: 1 });
    };

    it("STOP_LOSS_LIMIT SELL triggers when last ≤ stop and then rests as a limit", () => {
      trade(100);
      const acc = place({ side: 2, type: 5, price: 95, stopPrice: 97, quantity: 2 });
      expect(ofKind(acc, "accepted")[0]!.o.status).toBe(8);
      expect(book.levels(2)).toEqual([]);
      trade(98);
      expect(book.openOrders().filter((o) => o.status === 8)).toHaveLength(1);
      place({ account: 8, side: 2, price: 97, quantity: 1 });
      book.place(order({ account: 9, side: 1, price: 97, quantity: 1 }), ++t);
      const ev = rec.take();
      expect(kinds(ev)).toEqual(["accepted", "trade", "triggered", "depth"]);
      expect(ofKind(ev, "triggered")[0]).toMatchObject({ price: 97, o: { status: 1, type: 5 } });
      expect(book.levels(2)).toEqual([{ price: 95, quantity: 2, orders: 1 }]);
    });

    it("STOP_LOSS BUY triggers when last ≥ stop and executes as MARKET", () => {
      trade(100);
      place({ account: 2, side: 2, price: 106, quantity: 5 });
      place({ side: 1, type: 4, price: 0, stopPrice: 105, quantity: 2 });
      place({ account: 3, side: 2, price: 105, quantity: 1 });
      book.place(order({ account: 4, side: 1, price: 105, quantity: 1 }), ++t);
      const ev = rec.take();
      expect(kinds(ev)).toEqual(["accepted", "trade", "triggered", "trade", "depth"]);
      const tr = ofKind(ev, "trade");
      expect(tr[1]).toMatchObject({ price: 106, qty: 2 });
      expect(tr[1]!.taker.status).toBe(3);
    });

    it("TAKE_PROFIT directions: BUY triggers on last ≤ stop, SELL on last ≥ stop", () => {
      trade(100);
      const buy = place({ side: 1, type: 6, price: 0, stopPrice: 101, quantity: 1 });
      expect(ofKind(buy, "rejected")[0]!.reason).toBe("WOULD_TRIGGER_IMMEDIATELY");
      const sell = place({ side: 2, type: 6, price: 0, stopPrice: 99, quantity: 1 });
      expect(ofKind(sell, "rejected")[0]!.reason).toBe("WOULD_TRIGGER_IMMEDIATELY");
      place({ side: 1, type: 7, price: 96, stopPrice: 97, quantity: 1, timeInForce: 1 });
      place({ side: 2, type: 7, price: 104, stopPrice: 103, quantity: 1, timeInForce: 1 });
      expect(book.openOrders().filter((o) => o.status === 8)).toHaveLength(2);
      trade(97);
      expect(book.levels(1)).toEqual([{ price: 96, quantity: 1, orders: 1 }]);
      trade(103);
      expect(book.levels(2)).toEqual([{ price: 104, quantity: 1, orders: 1 }]);
    });

    it("cascades: a triggered stop's trade can trigger the next (lowest seq first)", () => {
      trade(100);
      place({ account: 2, side: 1, price: 95, quantity: 1 });
      place({ account: 2, side: 1, price: 90, quantity: 1 });
      place({ orderId: 50, account: 3, side: 2, type: 4, price: 0, stopPrice: 99, quantity: 1 });
      place({ orderId: 51, account: 4, side: 2, type: 4, price: 0, stopPrice: 95, quantity: 1 });
      place({ account: 8, side: 2, price: 99, quantity: 1 });
      book.place(order({ account: 9, side: 1, price: 99, quantity: 1 }), ++t);
      const ev = rec.take();
      expect(ofKind(ev, "triggered").map((x) => [x.o.orderId, x.price])).toEqual([
        [50, 99],
        [51, 95],
      ]);
      expect(ofKind(ev, "trade").map((x) => x.price)).toEqual([99, 95, 90]);
      expect(book.levels(1)).toEqual([]);
      expect(book.lastPrice()).toBe(90);
    });

    it("a pending stop can be cancelled and is not replaceable", () => {
      trade(100);
      place({ orderId: 60, side: 2, type: 4, price: 0, stopPrice: 90, quantity: 1 });
      book.replace(rep({ orderId: 60, newPrice: 91 }), ++t);
      expect(ofKind(rec.take(), "rejected")[0]!.reason).toBe("NOT_REPLACEABLE");
      book.cancel({ account: 1, orderId: 60, clientOrderId: "" }, ++t);
      expect(ofKind(rec.take(), "cancelled")[0]).toMatchObject({ reason: "USER", o: { status: 4 } });
    });
  });

  describe("cancel and clientOrderId", () => {
    it("cancels by order id and by clientOrderId; unknown and foreign orders are rejected", () => {
      place({ orderId: 1, clientOrderId: "a", price: 100 });
      place({ orderId: 2, clientOrderId: "b", price: 99 });
      book.cancel({ account: 2, orderId: 1, clientOrderId: "" }, ++t);
      expect(ofKind(rec.take(), "rejected")[0]!.reason).toBe("UNKNOWN_ORDER");
      book.cancel({ account: 1, orderId: 1, clientOrderId: "" }, ++t);
      expect(kinds(rec.take())).toEqual(["cancelled", "depth"]);
      book.cancel({ account: 1, orderId: 0, clientOrderId: "b" }, ++t);
      expect(ofKind(rec.take(), "cancelled")[0]!.o.orderId).toBe(2);
      book.cancel({ account: 1, orderId: 0, clientOrderId: "b" }, ++t);
      expect(ofKind(rec.take(), "rejected")[0]!.reason).toBe("UNKNOWN_ORDER");
    });

    it("rejects a duplicate clientOrderId among the account's open orders only", () => {
      place({ clientOrderId: "x", price: 100 });
      expect(ofKind(place({ clientOrderId: "x", price: 99 }), "rejected")[0]!.reason).toBe(
        "DUPLICATE_CLIENT_ORDER_ID",
      );
      expect(kinds(place({ account: 2, clientOrderId: "x", price: 98 }))).toEqual(["accepted", "depth"]);
      book.massCancel(1, ++t);
      rec.take();
      expect(kinds(place({ clientOrderId: "x", price: 97 }))).toEqual(["accepted", "depth"]);
    });

    it("rejects a duplicate open order id", () => {
      place({ orderId: 7, price: 100 });
      expect(ofKind(place({ orderId: 7, price: 99 }), "rejected")[0]!.reason).toBe("DUPLICATE_ORDER_ID");
    });

    it("mass cancel removes every open order of the account, ascending order id", () => {
      place({ orderId: 30, price: 100 });
      place({ orderId: 20, price: 99 });
      place({ orderId: 25, account: 2, price: 98 });
      book.place(order({ orderId: 10, side: 2, type: 4, price: 0, stopPrice: 120, quantity: 1 }), ++t);
      rec.take();
      book.massCancel(1, ++t);
      const ev = rec.take();
      expect(ofKind(ev, "cancelled").map((x) => [x.o.orderId, x.reason])).toEqual([
        [10, "MASS_CANCEL"],
        [20, "MASS_CANCEL"],
        [30, "MASS_CANCEL"],
      ]);
      expect(book.openOrders().map((o) => o.orderId)).toEqual([25]);
    });
  });

  describe("cancel-replace", () => {
    beforeEach(() => {
      place({ orderId: 1, account: 1, price: 100, quantity: 5 });
      place({ orderId: 2, account: 2, price: 100, quantity: 5 });
    });
    const hitBids = (q: number) => ofKind(place({ account: 9, side: 2, price: 100, quantity: q }), "trade");

    it("a size decrease keeps priority", () => {
      book.replace(rep({ orderId: 1, newQuantity: 3 }), ++t);
      const ev = rec.take();
      expect(ofKind(ev, "replaced")[0]).toMatchObject({
        kept: true,
        old: { status: 4 },
        new: { quantity: 3 },
      });
      expect(ofKind(ev, "depth")[0]!.bids).toEqual([[100, 8]]);
      expect(hitBids(1)[0]!.maker.orderId).toBe(1);
    });

    it("a size increase loses priority", () => {
      book.replace(rep({ orderId: 1, newQuantity: 6 }), ++t);
      expect(ofKind(rec.take(), "replaced")[0]!.kept).toBe(false);
      expect(hitBids(1)[0]!.maker.orderId).toBe(2);
    });

    it("a price change loses priority and may trade", () => {
      place({ orderId: 3, account: 3, side: 2, price: 102, quantity: 2 });
      book.replace(rep({ orderId: 1, newPrice: 102, newOrderId: 11, newClientOrderId: "n" }), ++t);
      const ev = rec.take();
      expect(kinds(ev)).toEqual(["replaced", "trade", "depth"]);
      expect(ofKind(ev, "replaced")[0]).toMatchObject({
        old: { orderId: 1 },
        new: { orderId: 11, clientOrderId: "n" },
      });
      expect(book.getOrder(11)).toMatchObject({ price: 102, leaves: 3, filledQuantity: 2 });
      expect(book.getOrder(1)).toBeUndefined();
    });

    it("validates the new price and quantity, and LIMIT_MAKER replaces that would take", () => {
      book.replace(rep({ orderId: 1, newQuantity: 0, newPrice: -1 }), ++t);
      expect(ofKind(rec.take(), "rejected")[0]!.reason).toBe("PRICE_FILTER");
      place({ orderId: 5, type: 3, price: 98, quantity: 1 });
      place({ account: 3, side: 2, price: 101, quantity: 1 });
      book.replace(rep({ orderId: 5, newPrice: 101 }), ++t);
      expect(ofKind(rec.take(), "rejected")[0]!.reason).toBe("WOULD_TAKE");
      book.replace(rep({ orderId: 1, newOrderId: 2 }), ++t);
      expect(ofKind(rec.take(), "rejected")[0]!.reason).toBe("DUPLICATE_ORDER_ID");
    });
  });

  describe("self-trade prevention (taker's mode governs)", () => {
    beforeEach(() => {
      place({ orderId: 1, account: 1, side: 2, price: 100, quantity: 2 });
      place({ orderId: 2, account: 2, side: 2, price: 100, quantity: 2 });
    });
    it("NONE trades with itself", () => {
      const ev = place({ account: 1, side: 1, price: 100, quantity: 2, stp: 1 });
      expect(ofKind(ev, "trade")[0]!.maker.orderId).toBe(1);
    });
    it("EXPIRE_TAKER expires the taker in match", () => {
      const ev = place({ account: 1, side: 1, price: 100, quantity: 3, stp: 2 });
      expect(kinds(ev)).toEqual(["accepted", "expired"]);
      expect(ofKind(ev, "expired")[0]).toMatchObject({ reason: "STP", o: { status: 7 } });
      expect(book.levels(2)[0]!.quantity).toBe(4);
    });
    it("EXPIRE_MAKER expires the maker and keeps matching", () => {
      const ev = place({ account: 1, side: 1, price: 100, quantity: 3, stp: 3 });
      expect(kinds(ev)).toEqual(["accepted", "expired", "trade", "depth"]);
      expect(ofKind(ev, "expired")[0]!.o.orderId).toBe(1);
      expect(book.levels(1)).toEqual([{ price: 100, quantity: 1, orders: 1 }]);
    });
    it("EXPIRE_BOTH expires both", () => {
      const ev = place({ account: 1, side: 1, price: 100, quantity: 3, stp: 4 });
      expect(ofKind(ev, "expired").map((x) => x.o.orderId)).toEqual([1, 3]);
      expect(book.levels(2)).toEqual([{ price: 100, quantity: 2, orders: 1 }]);
    });
    it("uses the market default when the order leaves it unspecified", () => {
      ({ book, rec } = makeBook(kind, spec({ defaultStp: 2 })));
      place({ account: 1, side: 2, price: 100, quantity: 2 });
      const ev = place({ account: 1, side: 1, price: 100, quantity: 2, stp: 0 });
      expect(ofKind(ev, "expired")[0]).toMatchObject({ reason: "STP", o: { stp: 2 } });
    });
  });

  describe("filters", () => {
    const s = spec({
      tickSize: 5,
      stepSize: 10,
      minQty: 20,
      maxQty: 1000,
      minPrice: 50,
      maxPrice: 500,
      minNotional: 5000,
    });
    beforeEach(() => {
      ({ book, rec } = makeBook(kind, s));
    });
    const reason = (over: Partial<PlaceCommand>) => ofKind(place(over), "rejected")[0]?.reason ?? "OK";
    it("tick size, price bounds, step size, min/max qty, min notional", () => {
      expect(reason({ price: 101, quantity: 100 })).toBe("PRICE_FILTER");
      expect(reason({ price: 45, quantity: 200 })).toBe("PRICE_FILTER");
      expect(reason({ price: 505, quantity: 20 })).toBe("PRICE_FILTER");
      expect(reason({ price: 100, quantity: 55 })).toBe("LOT_SIZE");
      expect(reason({ price: 100, quantity: 10 })).toBe("LOT_SIZE");
      expect(reason({ price: 100, quantity: 1010 })).toBe("LOT_SIZE");
      expect(reason({ price: 100, quantity: 40 })).toBe("MIN_NOTIONAL");
      expect(reason({ price: 100, quantity: 50 })).toBe("OK");
      expect(reason({ price: 100, quantity: 2.5 })).toBe("LOT_SIZE");
      expect(reason({ side: 3 as 1 })).toBe("INVALID_SIDE");
      expect(reason({ type: 8 as 1 })).toBe("INVALID_TYPE");
      expect(reason({ price: 100, quantity: 50, timeInForce: 0 })).toBe("INVALID_TIME_IN_FORCE");
      expect(reason({ price: 100, quantity: 50, stp: 9 as 1 })).toBe("INVALID_STP");
      expect(reason({ type: 2, price: 100, quantity: 50 })).toBe("PRICE_FILTER");
      expect(reason({ type: 4, price: 0, stopPrice: 101, quantity: 50 })).toBe("INVALID_STOP_PRICE");
      expect(reason({ price: 100, quantity: 50, stopPrice: 100 })).toBe("INVALID_STOP_PRICE");
      expect(reason({ orderId: 0, price: 100, quantity: 50 })).toBe("INVALID_ORDER_ID");
      expect(reason({ account: -1, price: 100, quantity: 50 })).toBe("INVALID_ACCOUNT");
    });
    it("refuses an order whose notional could pass the int64 quote amounts the engine emits", () => {
      ({ book, rec } = makeBook(kind, spec({ maxPrice: 2 ** 40 })));
      expect(reason({ price: 2 ** 40, quantity: 2 ** 23 })).toBe("MAX_NOTIONAL"); // exactly 2^63
      expect(reason({ price: 2 ** 40, quantity: 2 ** 23 - 1 })).toBe("OK");
      // A MARKET order by quantity may fill up to the market's max price.
      expect(reason({ type: 2, price: 0, quantity: 2 ** 23 })).toBe("MAX_NOTIONAL");
      // A replace that raises the quantity past the bound is refused and keeps the order.
      place({ orderId: 77, side: 1, price: 2 ** 30, quantity: 8 }); // below the resting 2^40 bid
      book.replace(rep({ orderId: 77, newQuantity: 2 ** 33 }), ++t);
      expect(ofKind(rec.take(), "rejected")[0]?.reason).toBe("MAX_NOTIONAL");
      expect(book.getOrder(77)).toMatchObject({ price: 2 ** 30, quantity: 8 });
    });

    it("new filters apply to new orders only", () => {
      place({ price: 100, quantity: 50 });
      book.updateFilters({ ...s, tickSize: 7 });
      expect(reason({ price: 100, quantity: 50 })).toBe("PRICE_FILTER");
      expect(reason({ price: 105, quantity: 50 })).toBe("OK");
      expect(book.levels(1).map((l) => l.price)).toEqual([105, 100]);
    });
  });

  describe("level totals (LEVEL_OVERFLOW)", () => {
    const MAX = Number.MAX_SAFE_INTEGER;
    it("refuses an order that would take its level past 2^53 − 1", () => {
      place({ price: 1, quantity: MAX - 1 });
      expect(ofKind(place({ price: 1, quantity: 2 }), "rejected")[0]!.reason).toBe("LEVEL_OVERFLOW");
      expect(kinds(place({ price: 1, quantity: 1 }))).toEqual(["accepted", "depth"]);
      expect(book.levels(1)).toEqual([{ price: 1, quantity: MAX, orders: 2 }]);
    });

    it("still does when the side's total passed 2^53 on the way (rounding must not hide it)", () => {
      place({ price: 1, quantity: MAX });
      // Other levels take the side's total past 2^53, where float sums round, and back down.
      const sizes = [MAX - 2, 1, 7, 5, 2, 1];
      for (const [i, quantity] of sizes.entries()) place({ orderId: 100 + i, price: 2 + i, quantity });
      for (const i of [2, 3, 1, 4, 5, 0])
        book.cancel({ account: 1, orderId: 100 + i, clientOrderId: "" }, ++t);
      rec.take();
      expect(ofKind(place({ price: 1, quantity: 4 }), "rejected")[0]!.reason).toBe("LEVEL_OVERFLOW");
      expect(book.levels(1)).toEqual([{ price: 1, quantity: MAX, orders: 1 }]);
    });
  });

  describe("market status", () => {
    it("HALT rejects new orders and replaces but allows cancels; TRADING resumes", () => {
      place({ orderId: 1, price: 100 });
      book.setStatus(2, ++t);
      expect(rec.take()).toEqual([]);
      expect(ofKind(place({ price: 99 }), "rejected")[0]!.reason).toBe("MARKET_HALTED");
      book.replace(rep({ orderId: 1, newPrice: 98 }), ++t);
      expect(ofKind(rec.take(), "rejected")[0]!.reason).toBe("MARKET_HALTED");
      book.cancel({ account: 1, orderId: 1, clientOrderId: "" }, ++t);
      expect(kinds(rec.take())).toEqual(["cancelled", "depth"]);
      book.setStatus(1, ++t);
      expect(kinds(place({ price: 99 }))).toEqual(["accepted", "depth"]);
    });
    it("BREAK cancels every open order and rejects new ones", () => {
      place({ orderId: 2, price: 100 });
      place({ orderId: 1, account: 2, side: 2, price: 101 });
      book.setStatus(3, ++t);
      const ev = rec.take();
      expect(ofKind(ev, "cancelled").map((x) => [x.o.orderId, x.reason])).toEqual([
        [1, "MARKET_CLOSED"],
        [2, "MARKET_CLOSED"],
      ]);
      expect(ofKind(ev, "depth")[0]).toMatchObject({ bids: [[100, 0]], asks: [[101, 0]] });
      expect(ofKind(place({ price: 99 }), "rejected")[0]!.reason).toBe("MARKET_CLOSED");
    });
  });

  describe("depth deltas, snapshots, determinism", () => {
    it("update ids are consecutive per changed level; unchanged commands emit none", () => {
      place({ price: 100 });
      place({ price: 99 });
      const ev = place({ account: 2, side: 2, price: 99, quantity: 15 });
      expect(ofKind(ev, "depth")[0]).toMatchObject({
        first: 3,
        last: 4,
        bids: [
          [100, 0],
          [99, 5],
        ],
        asks: [],
      });
      book.cancel({ account: 1, orderId: 12345, clientOrderId: "" }, ++t);
      expect(kinds(rec.take())).toEqual(["rejected"]);
    });

    it("restore(snapshot()) reproduces the state and continues identically", () => {
      place({ orderId: 1, price: 100, clientOrderId: "a" });
      place({ orderId: 2, account: 2, side: 2, price: 103, quantity: 3 });
      place({ orderId: 3, account: 2, side: 2, type: 4, price: 0, stopPrice: 90, quantity: 1 });
      place({ orderId: 4, account: 3, side: 1, price: 103, quantity: 1 });
      const snap = JSON.parse(JSON.stringify(book.snapshot()));
      const copy = makeBook(kind);
      const restored =
        kind === "fast"
          ? (book.constructor as typeof import("../src/book/fast-book.ts").FastBook).restore(snap, copy.rec)
          : (
              book.constructor as typeof import("../src/book/reference/reference-book.ts").ReferenceBook
            ).restore(snap, copy.rec);
      expect(restored.snapshot()).toEqual(snap);
      const cmds: PlaceCommand[] = [
        order({ orderId: 5, account: 4, side: 2, price: 100, quantity: 12 }),
        order({ orderId: 6, account: 4, side: 2, price: 89, quantity: 1 }),
        order({ orderId: 7, account: 1, side: 1, price: 100, quantity: 1, clientOrderId: "a" }),
      ];
      for (const c of cmds) {
        book.place(c, 1000);
        restored.place(c, 1000);
      }
      expect(copy.rec.take()).toEqual(rec.take());
      expect(restored.snapshot()).toEqual(book.snapshot());
    });
  });
});

describe("fast and reference books agree on a fixed scenario", () => {
  it("identical event streams", () => {
    const runs = KINDS.map((k) => {
      resetIds();
      const { book, rec } = makeBook(k);
      for (let i = 0; i < 40; i++) {
        book.place(
          order({
            account: 1 + (i % 3),
            side: i % 2 === 0 ? 1 : 2,
            price: 95 + ((i * 7) % 11),
            quantity: 1 + (i % 5),
          }),
          i,
        );
      }
      return rec.take();
    });
    expect(runs[0]).toEqual(runs[1]);
    expect(ofKind(runs[0]!, "trade").length).toBeGreaterThan(5);
  });
});
