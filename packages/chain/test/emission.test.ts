import { describe, expect, it } from "vitest";
import {
  EMISSION_GRANULARITY,
  EMISSION_PERIODS,
  periodEmission,
  sdDiv,
  sdExp,
  sdLn,
  sdMul,
  splitEmission,
} from "../src/index.ts";

const UNIT = 10n ** 18n;
const toNum = (x: bigint) => Number(x) / 1e18;

describe("emission (TS twin of EmissionSchedule)", () => {
  it("fixed-point ln / exp / mul / div agree with floating point", () => {
    for (const x of [0.0164, 0.5, 1, 2, 3.7, 10, 202.85]) {
      expect(toNum(sdLn(BigInt(Math.round(x * 1e6)) * 10n ** 12n))).toBeCloseTo(Math.log(x), 12);
    }
    for (const x of [-41, -20, -8.44, -1, -0.001, 0, 0.5, 3]) {
      const got = toNum(sdExp(BigInt(Math.round(x * 1e6)) * 10n ** 12n));
      expect(Math.abs(got - Math.exp(x))).toBeLessThan(Math.exp(x) * 1e-12 + 1e-18);
    }
    expect(sdExp(-42n * UNIT)).toBe(0n);
    expect(sdMul(-3n * UNIT, 2n * UNIT)).toBe(-6n * UNIT);
    expect(sdDiv(-7n * UNIT, 2n * UNIT)).toBe(-3_500_000_000_000_000_000n);
    expect(() => sdLn(0n)).toThrow(RangeError);
  });

  it("hits the R-13 check values and is 0 outside 1..74037", () => {
    expect(periodEmission(1)).toBe(127_089_469_144n * 10n ** 12n);
    expect(periodEmission(216)).toBe(3_293_003_402_905n * 10n ** 12n);
    expect(periodEmission(215)).toBeLessThan(periodEmission(216));
    expect(periodEmission(217)).toBeLessThan(periodEmission(216));
    expect(periodEmission(0)).toBe(0n);
    expect(periodEmission(EMISSION_PERIODS + 1)).toBe(0n);
    expect(periodEmission(1.5)).toBe(0n);
  });

  it("amounts are multiples of 1e-6 EXT, within 1e-6 EXT of the real formula, split 40:20:10 exactly", () => {
    for (const x of [1, 7, 216, 1000, 40_000, EMISSION_PERIODS]) {
      const v = periodEmission(x);
      expect(v % EMISSION_GRANULARITY).toBe(0n);
      const ref = 3293005.88008333 * Math.exp(-(((Math.log((x + 5) / 365) + 0.5) / 2) ** 2));
      expect(Math.abs(toNum(v) - ref)).toBeLessThan(1e-6 + ref * 1e-12);
      const s = splitEmission(x);
      expect(s.poe + s.pos + s.pools).toBe(v);
      expect(s.poe).toBe((v * 4n) / 7n);
    }
  });
});
