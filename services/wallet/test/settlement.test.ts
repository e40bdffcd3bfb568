import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FEE_ACCOUNT } from "../src/state";
import { type Harness, OrderStatus, order, Side, startHarness, stopHarness, tradeEvent } from "./fixtures";

let h: Harness;
beforeAll(async () => {
  h = await startHarness("wallet_settlement");
});
afterAll(async () => {
  await stopHarness(h);
});

/**
 * Property: for any market scales, asset decimals, fee rates and trade sequence, settlement moves
 * exactly what the unit conversion says (buyer pays the ceiling, seller gets the floor minus fee,
 * buyer gets base minus fee, the fee account gets fees plus rounding dust), nothing goes negative,
 * nothing is left locked once orders are done, and conservation holds per asset.
 */
describe("settlement across market scales", () => {
  it("conserves every asset and matches the unit-conversion oracle", async () => {
    let run = 0;
    let sequence = 0n;
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          baseDecimals: fc.integer({ min: 0, max: 8 }),
          quoteDecimals: fc.integer({ min: 0, max: 8 }),
          priceScale: fc.integer({ min: 0, max: 6 }),
          quantityScale: fc.integer({ min: 0, max: 6 }),
          makerFeeBps: fc.integer({ min: 0, max: 100 }),
          takerFeeBps: fc.integer({ min: 0, max: 100 }),
          trades: fc.array(
            fc.record({
              price: fc.bigInt({ min: 1n, max: 50_000n }),
              quantity: fc.bigInt({ min: 1n, max: 50_000n }),
              buyerIsMaker: fc.boolean(),
            }),
            { minLength: 1, maxLength: 8 },
          ),
        }),
        async (p) => {
          run++;
          const base = `B${run}`;
          const quote = `Q${run}`;
          const symbol = `${base}${quote}`;
          await h.ledger.registerAsset({ symbol: base, decimals: p.baseDecimals, contractAddress: "" });
          await h.ledger.registerAsset({ symbol: quote, decimals: p.quoteDecimals, contractAddress: "" });
          await h.ledger.configureMarket({
            symbol,
            baseAsset: base,
            quoteAsset: quote,
            priceScale: p.priceScale,
            quantityScale: p.quantityScale,
            makerFeeBps: p.makerFeeBps,
            takerFeeBps: p.takerFeeBps,
          });
          const buyer = `buyer-${run}`;
          const seller = `seller-${run}`;
          const ceilDiv = (a: bigint, b: bigint) => (a + b - 1n) / b;
          const conv = (v: bigint, scale: number, dec: number) =>
            dec >= scale
              ? { ceil: v * 10n ** BigInt(dec - scale), floor: v * 10n ** BigInt(dec - scale) }
              : { ceil: ceilDiv(v, 10n ** BigInt(scale - dec)), floor: v / 10n ** BigInt(scale - dec) };
          let quoteNeed = 0n;
          let baseNeed = 0n;
          const exp = { bq: 0n, bb: 0n, sq: 0n, sb: 0n, fq: 0n, fb: 0n };
          for (const t of p.trades) {
            const b = conv(t.quantity, p.quantityScale, p.baseDecimals);
            const q = conv(t.price * t.quantity, p.priceScale + p.quantityScale, p.quoteDecimals);
            const buyerBps = BigInt(t.buyerIsMaker ? p.makerFeeBps : p.takerFeeBps);
            const sellerBps = BigInt(t.buyerIsMaker ? p.takerFeeBps : p.makerFeeBps);
            const bf = (b.floor * buyerBps) / 10_000n;
            const sf = (q.floor * sellerBps) / 10_000n;
            quoteNeed += q.ceil;
            baseNeed += b.ceil;
            exp.bq -= q.ceil;
            exp.bb += b.floor - bf;
            exp.sb -= b.ceil;
            exp.sq += q.floor - sf;
            exp.fb += bf + (b.ceil - b.floor);
            exp.fq += sf + (q.ceil - q.floor);
          }
          // Fund with a margin and reserve a bit more than needed: the rest must come back at FILLED.
          await h.ledger.deposit(`dep-q-${run}`, buyer, quote, quoteNeed + 7n);
          await h.ledger.deposit(`dep-b-${run}`, seller, base, baseNeed + 3n);
          await h.ledger.reserve(buyer, quote, quoteNeed + 5n, `buy-${run}`);
          await h.ledger.reserve(seller, base, baseNeed + 1n, `sell-${run}`);
          const events = p.trades.map((t, i) => {
            const last = i === p.trades.length - 1;
            const status = last ? OrderStatus.FILLED : OrderStatus.PARTIALLY_FILLED;
            const buy = order({ orderId: BigInt(run * 10), accountId: buyer, side: Side.BUY, status });
            const sell = order({ orderId: BigInt(run * 10 + 1), accountId: seller, side: Side.SELL, status });
            return tradeEvent(++sequence, symbol, {
              tradeId: BigInt(i + 1),
              price: t.price,
              quantity: t.quantity,
              buyerIsMaker: t.buyerIsMaker,
              maker: t.buyerIsMaker ? buy : sell,
              taker: t.buyerIsMaker ? sell : buy,
            });
          });
          // The holds were reserved under string ids; map the engine's numeric ids onto them.
          await h.ledger.release(buyer, `buy-${run}`, 0n);
          await h.ledger.release(seller, `sell-${run}`, 0n);
          await h.ledger.reserve(buyer, quote, quoteNeed + 5n, String(run * 10));
          await h.ledger.reserve(seller, base, baseNeed + 1n, String(run * 10 + 1));
          const r = await h.ledger.applyExecutions("executions.v1", events);
          expect(r.applied).toBe(events.length);
          const get = async (account: string, asset: string) => {
            const b = (await h.ledger.balances(account)).find((x) => x.asset === asset);
            return { free: b?.free ?? 0n, locked: b?.locked ?? 0n };
          };
          expect(await get(buyer, quote)).toEqual({ free: quoteNeed + 7n + exp.bq, locked: 0n });
          expect(await get(buyer, base)).toEqual({ free: exp.bb, locked: 0n });
          expect(await get(seller, base)).toEqual({ free: baseNeed + 3n + exp.sb, locked: 0n });
          expect(await get(seller, quote)).toEqual({ free: exp.sq, locked: 0n });
          expect((await get(FEE_ACCOUNT, base)).free).toBe(exp.fb);
          expect((await get(FEE_ACCOUNT, quote)).free).toBe(exp.fq);
        },
      ),
      { numRuns: 25 },
    );
    const audit = await h.ledger.audit();
    expect(audit.ok).toBe(true);
    expect(await h.ledger.exceptions()).toEqual([]);
  });
});
