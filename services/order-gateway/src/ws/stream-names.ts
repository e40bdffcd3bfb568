/**
 * Binance market stream names: `<symbol>@trade`, `@aggTrade`, `@depth[@100ms|@1000ms]`,
 * `@depth<5|10|20>[@100ms|@1000ms]`, `@kline_<interval>`, `@ticker`, `@miniTicker`, `@bookTicker`;
 * the symbol in lower case.
 */
import { isKlineInterval, type KlineInterval } from "../projector/intervals.ts";

export type StreamSpec =
  | { kind: "trade" | "aggTrade" | "ticker" | "miniTicker" | "bookTicker"; symbol: string }
  | { kind: "diffDepth"; symbol: string; speedMs: 100 | 1000 }
  | { kind: "partialDepth"; symbol: string; levels: 5 | 10 | 20; speedMs: 100 | 1000 }
  | { kind: "kline"; symbol: string; interval: KlineInterval };

const NAME = /^([a-z0-9-_.]{1,20})@([A-Za-z0-9_]+)(?:@(100ms|1000ms))?$/;

/** Parses a stream name; undefined when it is not a stream this gateway serves. */
export function parseStream(name: string): StreamSpec | undefined {
  const m = NAME.exec(name);
  if (!m) return undefined;
  const symbol = m[1]!.toUpperCase();
  const type = m[2]!;
  const speedMs = m[3] === "100ms" ? 100 : 1000;
  if (type === "depth") return { kind: "diffDepth", symbol, speedMs };
  const partial = /^depth(5|10|20)$/.exec(type);
  if (partial) return { kind: "partialDepth", symbol, levels: Number(partial[1]) as 5 | 10 | 20, speedMs };
  if (m[3] !== undefined) return undefined;
  if (
    type === "trade" ||
    type === "aggTrade" ||
    type === "ticker" ||
    type === "miniTicker" ||
    type === "bookTicker"
  ) {
    return { kind: type, symbol };
  }
  if (type.startsWith("kline_")) {
    const interval = type.slice(6);
    if (isKlineInterval(interval)) return { kind: "kline", symbol, interval };
  }
  return undefined;
}

/** Canonical names the hub publishes to (one per feed), so `x@depth` and `x@depth@1000ms` share one feed. */
export function feedName(spec: StreamSpec): string {
  const s = spec.symbol.toLowerCase();
  switch (spec.kind) {
    case "diffDepth":
      return `${s}@depth@${spec.speedMs}ms`;
    case "partialDepth":
      return `${s}@depth${spec.levels}@${spec.speedMs}ms`;
    case "kline":
      return `${s}@kline_${spec.interval}`;
    default:
      return `${s}@${spec.kind}`;
  }
}
