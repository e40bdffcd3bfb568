import type { MarketSpec } from "@excraft/proto";

/**
 * The market most tests trade: `<base>USDT` with prices in 0.01 USDT ticks and quantities in
 * 0.0001 lots, no maximums, STP off. Tests override what they exercise.
 */
export function usdtMarketSpec(base: string, overrides: Partial<MarketSpec> = {}): MarketSpec {
  return {
    symbol: `${base}USDT`,
    baseAsset: base,
    quoteAsset: "USDT",
    priceScale: 2,
    quantityScale: 4,
    tickSize: 1n,
    stepSize: 1n,
    minQty: 1n,
    maxQty: 0n,
    minPrice: 1n,
    maxPrice: 0n,
    minNotional: 0n,
    status: 1,
    defaultStp: 1,
    shard: 0,
    ...overrides,
  };
}
