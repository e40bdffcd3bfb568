/** The demo markets of one-process mode. Prices are in ticks of 0.01 USDT, quantities in lots of 0.0001. */
import type { MarketSpec } from "@excraft/proto";

export interface DemoMarket {
  spec: MarketSpec;
  /** Starting mid price of the bot, in ticks. */
  mid: number;
}

function usdtMarket(base: string, mid: number, minQty: bigint): DemoMarket {
  return {
    mid,
    spec: {
      symbol: `${base}USDT`,
      baseAsset: base,
      quoteAsset: "USDT",
      priceScale: 2,
      quantityScale: 4,
      tickSize: 1n,
      stepSize: 1n,
      minQty,
      maxQty: 100_000_000n,
      minPrice: 1n,
      maxPrice: 100_000_000_00n,
      minNotional: 5_000_000n, // 5 USDT in units of 10^-(2+4)
      status: 1,
      defaultStp: 2, // EXPIRE_TAKER
      shard: 0,
    },
  };
}

export const DEMO_MARKETS: DemoMarket[] = [
  usdtMarket("BTC", 97_000_00, 1n),
  usdtMarket("ETH", 3_400_00, 10n),
  usdtMarket("EXT", 1_25, 10_000n),
];

/** Maker/taker fees of the demo markets, in basis points (the wallet charges them on settlement). */
export const DEMO_FEES = { makerFeeBps: 10, takerFeeBps: 20 };
