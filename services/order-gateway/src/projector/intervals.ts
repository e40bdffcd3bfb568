/** Binance kline intervals and their UTC-aligned open times. */
export const KLINE_INTERVALS = [
  "1s",
  "1m",
  "3m",
  "5m",
  "15m",
  "30m",
  "1h",
  "2h",
  "4h",
  "6h",
  "8h",
  "12h",
  "1d",
  "3d",
  "1w",
  "1M",
] as const;
export type KlineInterval = (typeof KLINE_INTERVALS)[number];

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** 1970-01-01 was a Thursday; Binance weeks open on Monday 00:00 UTC (1970-01-05). */
const FIRST_MONDAY = 4 * DAY;

const FIXED: Record<Exclude<KlineInterval, "1w" | "1M">, number> = {
  "1s": SECOND,
  "1m": MINUTE,
  "3m": 3 * MINUTE,
  "5m": 5 * MINUTE,
  "15m": 15 * MINUTE,
  "30m": 30 * MINUTE,
  "1h": HOUR,
  "2h": 2 * HOUR,
  "4h": 4 * HOUR,
  "6h": 6 * HOUR,
  "8h": 8 * HOUR,
  "12h": 12 * HOUR,
  "1d": DAY,
  "3d": 3 * DAY,
};

export function isKlineInterval(value: string): value is KlineInterval {
  return (KLINE_INTERVALS as readonly string[]).includes(value);
}

/** Open time (ms) of the kline of `interval` that contains `timeMs`. */
export function klineOpenTime(interval: KlineInterval, timeMs: number): number {
  if (interval === "1M") {
    const d = new Date(timeMs);
    return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  }
  if (interval === "1w") {
    return Math.floor((timeMs - FIRST_MONDAY) / (7 * DAY)) * 7 * DAY + FIRST_MONDAY;
  }
  const ms = FIXED[interval];
  return Math.floor(timeMs / ms) * ms;
}

/** Close time (ms, inclusive) of the kline opening at `openTime`: the next open time − 1. */
export function klineCloseTime(interval: KlineInterval, openTime: number): number {
  if (interval === "1M") {
    const d = new Date(openTime);
    return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) - 1;
  }
  if (interval === "1w") return openTime + 7 * DAY - 1;
  return openTime + FIXED[interval] - 1;
}
