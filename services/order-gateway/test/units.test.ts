import { describe, expect, it } from "vitest";
import { formatFixed, formatRatio, formatUnits } from "../src/decimal.ts";
import { klineCloseTime, klineOpenTime } from "../src/projector/intervals.ts";
import { admit } from "../src/projector/projector.ts";
import { feedName, parseStream } from "../src/ws/stream-names.ts";

describe("decimal text", () => {
  it("prints integers at the market's scale with 8 fractional digits, more only when the scale is finer", () => {
    expect(formatUnits(9_700_000n, 2)).toBe("97000.00000000");
    expect(formatUnits(1n, 4)).toBe("0.00010000");
    expect(formatUnits(0n, 2)).toBe("0.00000000");
    expect(formatUnits(-10_000n, 2)).toBe("-100.00000000");
    expect(formatUnits(123_456_789_012n, 10)).toBe("12.3456789012");
    // Far beyond 2^53: still exact.
    expect(formatUnits(12_345_678_901_234_567_890_123n, 6)).toBe("12345678901234567.89012300");
    expect(formatFixed(5n, 3)).toBe("0.005");
  });

  it("divides exactly and rounds half away from zero", () => {
    // 203680 / 2.1 = 96990.476190476...
    expect(formatRatio(203_680_000_000n, 6, 21_000n, 4, 8)).toBe("96990.47619048");
    expect(formatRatio(-10_000n * 100n, 0, 9_700_000n, 0, 3)).toBe("-0.103");
    expect(formatRatio(1n, 0, 8n, 0, 2)).toBe("0.13");
    expect(formatRatio(-1n, 0, 8n, 0, 2)).toBe("-0.13");
    expect(formatRatio(5n, 0, 0n, 0, 2)).toBe("0.00");
  });
});

describe("kline intervals", () => {
  const t = Date.UTC(2026, 10, 21, 13, 47, 31, 250); // Saturday
  it("aligns open times to UTC like Binance", () => {
    expect(klineOpenTime("1s", t)).toBe(Date.UTC(2026, 10, 21, 13, 47, 31));
    expect(klineOpenTime("1m", t)).toBe(Date.UTC(2026, 10, 21, 13, 47));
    expect(klineOpenTime("15m", t)).toBe(Date.UTC(2026, 10, 21, 13, 45));
    expect(klineOpenTime("4h", t)).toBe(Date.UTC(2026, 10, 21, 12));
    expect(klineOpenTime("1d", t)).toBe(Date.UTC(2026, 10, 21));
    expect(klineOpenTime("1w", t)).toBe(Date.UTC(2026, 10, 16)); // Monday
    expect(klineOpenTime("1M", t)).toBe(Date.UTC(2026, 10, 1));
    expect(klineCloseTime("1M", Date.UTC(2026, 1, 1))).toBe(Date.UTC(2026, 2, 1) - 1);
    expect(klineCloseTime("1m", Date.UTC(2026, 10, 21, 13, 47))).toBe(
      Date.UTC(2026, 10, 21, 13, 47, 59, 999),
    );
  });
});

describe("event admission (ADR 7)", () => {
  it("drops duplicates and stale epochs, flags gaps", () => {
    const cursor = { epoch: 0n, sequence: 0n };
    expect(admit(cursor, 1n, 1n)).toBe("apply");
    expect(admit(cursor, 1n, 2n)).toBe("apply");
    expect(admit(cursor, 1n, 2n)).toBe("duplicate");
    expect(admit(cursor, 2n, 2n)).toBe("duplicate"); // a new leader replaying
    expect(admit(cursor, 2n, 3n)).toBe("apply");
    expect(admit(cursor, 1n, 4n)).toBe("stale"); // a fenced-off writer
    expect(admit(cursor, 2n, 6n)).toBe("gap");
    expect(cursor).toEqual({ epoch: 2n, sequence: 6n });
  });
});

describe("stream names", () => {
  it("parses Binance market stream names", () => {
    expect(parseStream("btcusdt@depth")).toEqual({ kind: "diffDepth", symbol: "BTCUSDT", speedMs: 1000 });
    expect(feedName(parseStream("btcusdt@depth@1000ms")!)).toBe("btcusdt@depth@1000ms");
    expect(parseStream("btcusdt@depth10@100ms")).toEqual({
      kind: "partialDepth",
      symbol: "BTCUSDT",
      levels: 10,
      speedMs: 100,
    });
    expect(parseStream("btcusdt@kline_1M")).toEqual({ kind: "kline", symbol: "BTCUSDT", interval: "1M" });
    expect(parseStream("btcusdt@aggTrade")?.kind).toBe("aggTrade");
    expect(parseStream("btcusdt@kline_2m")).toBeUndefined();
    expect(parseStream("btcusdt@trade@100ms")).toBeUndefined();
    expect(parseStream("BTCUSDT@trade")).toBeUndefined();
    expect(parseStream("btcusdt@depth7")).toBeUndefined();
  });
});
