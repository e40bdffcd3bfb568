import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { IdIndex } from "../src/book/id-index.ts";
import type { PlaceCommand } from "../src/book/types.ts";
import { Engine } from "../src/engine.ts";
import { KINDS, makeEngine, order, resetIds, spec } from "./helpers.ts";

describe.each(KINDS)("Engine (%s books)", (kind) => {
  it("adds markets, rejects duplicates and invalid specs, routes by symbol", () => {
    resetIds();
    const { engine, rec } = makeEngine(kind);
    expect(engine.addMarket(spec({ symbol: "BTCUSDT" }))).toBe(0);
    expect(engine.addMarket(spec({ symbol: "ETHUSDT" }))).toBe(1);
    expect(engine.addMarket(spec({ symbol: "BTCUSDT" }))).toBe(-1);
    expect(engine.addMarket(spec({ symbol: "bad symbol" }))).toBe(-1);
    expect(engine.addMarket(spec({ symbol: "XUSDT", tickSize: 0 }))).toBe(-1);
    expect(rec.take().map((e) => (e.k === "admin" ? e.code : e.k))).toEqual([
      "market",
      "market",
      "DUPLICATE_SYMBOL",
      "INVALID_MARKET_SPEC",
      "INVALID_MARKET_SPEC",
    ]);
    engine.place("ETHUSDT", order({ price: 100 }), 1);
    const ev = rec.take();
    expect(ev[0]).toMatchObject({ k: "accepted", m: 1 });
    expect(engine.book("ETHUSDT")!.bestBid()).toBe(100);
    expect(engine.book("BTCUSDT")!.bestBid()).toBe(0);
    engine.place("NOPE", order({ price: 100 }), 2);
    expect(rec.take()).toMatchObject([{ k: "rejected", m: -1, reason: "UNKNOWN_SYMBOL" }]);
    engine.cancel("NOPE", { account: 1, orderId: 1, clientOrderId: "" }, 3);
    engine.replace(
      "NOPE",
      {
        account: 1,
        orderId: 1,
        clientOrderId: "",
        newOrderId: 0,
        newClientOrderId: "",
        newPrice: 1,
        newQuantity: 0,
      },
      3,
    );
    expect(rec.take().map((e) => (e.k === "rejected" ? e.reason : e.k))).toEqual([
      "UNKNOWN_SYMBOL",
      "UNKNOWN_SYMBOL",
    ]);
  });

  it("halts, resumes, changes filters and mass-cancels across markets", () => {
    resetIds();
    const { engine, rec } = makeEngine(kind);
    for (const s of ["AAAUSDT", "BBBUSDT", "CCCUSDT"]) engine.addMarket(spec({ symbol: s }));
    const alice = engine.accounts.intern("alice");
    const bob = engine.accounts.intern("bob");
    expect(engine.accounts.intern("alice")).toBe(alice);
    expect(engine.accounts.name(bob)).toBe("bob");
    for (const s of ["AAAUSDT", "BBBUSDT", "CCCUSDT"]) {
      engine.place(s, order({ account: alice, price: 100 }), 1);
      engine.place(s, order({ account: bob, price: 99 }), 1);
    }
    rec.take();
    expect(engine.setMarketStatus("BBBUSDT", 2, 2)).toBe(true);
    expect(engine.setMarketStatus("ZZZUSDT", 2, 2)).toBe(false);
    engine.place("BBBUSDT", order({ price: 98 }), 3);
    expect(rec.take().map((e) => (e.k === "rejected" ? e.reason : e.k === "admin" ? e.code : e.k))).toEqual([
      "market",
      "UNKNOWN_SYMBOL",
      "MARKET_HALTED",
    ]);
    expect(engine.updateFilters("AAAUSDT", { ...spec(), tickSize: 0 })).toBe(false);
    expect(engine.updateFilters("AAAUSDT", { ...spec(), tickSize: 2 })).toBe(true);
    expect(engine.book("AAAUSDT")!.spec.tickSize).toBe(2);
    rec.take();
    engine.massCancel(alice, 4, "CCCUSDT");
    expect(rec.take().filter((e) => e.k === "cancelled")).toHaveLength(1);
    engine.massCancel(alice, 5);
    const ev = rec.take().filter((e) => e.k === "cancelled");
    expect(ev.map((e) => e.m)).toEqual([0, 1]);
    expect(engine.markets().map((b) => b.openOrders().map((o) => o.account))).toEqual([[bob], [bob], [bob]]);
  });

  it("restore(snapshot()) of a whole shard continues identically", () => {
    resetIds();
    const { engine, rec } = makeEngine(kind);
    const syms = ["AAAUSDT", "BBBUSDT"];
    for (const s of syms) engine.addMarket(spec({ symbol: s }));
    const cmds: [string, PlaceCommand][] = [];
    for (let i = 0; i < 60; i++) {
      cmds.push([
        syms[i % 2]!,
        order({
          account: engine.accounts.intern(`acc${i % 4}`),
          side: i % 3 === 0 ? 2 : 1,
          price: 95 + ((i * 7) % 11),
          quantity: 1 + (i % 4),
        }),
      ]);
    }
    for (const [s, c] of cmds.slice(0, 30)) engine.place(s, c, 1);
    const snap = JSON.parse(JSON.stringify(engine.snapshot()));
    const other = makeEngine(kind);
    const restored = Engine.restore(snap, other.rec, kind);
    expect(restored.snapshot()).toEqual(snap);
    rec.take();
    for (const [s, c] of cmds.slice(30)) {
      engine.place(s, c, 2);
      restored.place(s, c, 2);
    }
    engine.massCancel(1, 3);
    restored.massCancel(1, 3);
    const a = rec.take();
    expect(a.some((e) => e.k === "trade")).toBe(true);
    expect(other.rec.take()).toEqual(a);
    expect(restored.snapshot()).toEqual(engine.snapshot());
  });
});

describe("Engine: fast and reference shards agree", () => {
  it("same commands → same events (many markets, shared arena)", () => {
    const runs = KINDS.map((k) => {
      resetIds();
      const { engine, rec } = makeEngine(k);
      for (let m = 0; m < 20; m++) engine.addMarket(spec({ symbol: `M${m}USDT` }));
      for (let i = 0; i < 2000; i++) {
        const sym = `M${(i * 7) % 20}USDT`;
        if (i % 5 === 4) engine.cancel(sym, { account: i % 6, orderId: i - 3, clientOrderId: "" }, i);
        else
          engine.place(
            sym,
            order({
              account: i % 6,
              side: (i * 13) % 2 === 0 ? 1 : 2,
              price: 90 + ((i * 31) % 21),
              quantity: 1 + (i % 9),
            }),
            i,
          );
      }
      engine.massCancel(2, 9999);
      return rec.take();
    });
    expect(runs[0]).toEqual(runs[1]);
  });
});

describe("IdIndex", () => {
  it("behaves like a Map under random set/delete/get (ids up to 2^53)", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.constantFrom("set", "del", "get"),
            fc.oneof(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER })),
            fc.nat(1000),
          ),
          {
            maxLength: 400,
          },
        ),
        (ops) => {
          const idx = new IdIndex(4);
          const ref = new Map<number, number>();
          for (const [op, k, v] of ops) {
            if (op === "set") {
              idx.set(k, v, v + 7);
              ref.set(k, v);
            } else if (op === "del") expect(idx.delete(k)).toBe(ref.delete(k));
            expect(idx.get(k)).toBe(ref.get(k) ?? -1);
            expect(idx.size).toBe(ref.size);
          }
          for (const [k, v] of ref) {
            expect(idx.get(k)).toBe(v);
            expect(idx.kv[idx.probe(k) + 2]).toBe(v + 7); // the hint moves with its entry
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
