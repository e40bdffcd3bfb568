import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  bigIntToWide,
  floorToStep,
  notional,
  notionalAtLeast,
  toSafeNumber,
  validateFilters,
  validateMarketSpec,
  wideToBigInt,
} from "../src/index.ts";

describe("fixed-point helpers", () => {
  it("notionalAtLeast is exact, including beyond 2^53", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
        fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
        fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        (p, q, min) => {
          expect(notionalAtLeast(p, q, min)).toBe(notional(p, q) >= BigInt(min));
        },
      ),
      { numRuns: 2000 },
    );
    expect(notionalAtLeast(94906267, 94906267, Number.MAX_SAFE_INTEGER)).toBe(true);
    expect(notionalAtLeast(3, 5, 16)).toBe(false);
  });
  it("wide values round-trip", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 105n) - 1n }), (v) => {
        const out = [0, 0];
        bigIntToWide(v, out);
        expect(out[1]!).toBeLessThan(2 ** 52);
        expect(wideToBigInt(out[0]!, out[1]!)).toBe(v);
      }),
    );
  });
  it("toSafeNumber guards the range; floorToStep floors", () => {
    expect(toSafeNumber(9007199254740991n)).toBe(Number.MAX_SAFE_INTEGER);
    expect(() => toSafeNumber(9007199254740992n, "price")).toThrow(/price/);
    expect(floorToStep(17, 5)).toBe(15);
  });
});

describe("market specs", () => {
  const base = {
    symbol: "BTCUSDT",
    baseAsset: "BTC",
    quoteAsset: "USDT",
    priceScale: 2,
    quantityScale: 8,
    tickSize: 1,
    stepSize: 1000,
    minQty: 1000,
    maxQty: 900_000_000_000,
    minPrice: 1,
    maxPrice: 0,
    minNotional: 500,
    status: 1 as const,
    defaultStp: 3 as const,
  };
  it("accepts a valid spec and rejects bad filters", () => {
    expect(validateMarketSpec(base)).toBeNull();
    expect(validateMarketSpec({ ...base, symbol: "btc" })).toMatch(/symbol/);
    expect(validateFilters({ ...base, stepSize: 0 })).toMatch(/stepSize/);
    expect(validateFilters({ ...base, minQty: 10, maxQty: 5 })).toMatch(/maxQty/);
    expect(validateFilters({ ...base, minNotional: 1.5 })).toMatch(/minNotional/);
    expect(validateMarketSpec({ ...base, status: 7 as 1 })).toMatch(/status/);
  });
});
