/**
 * The markets the gateway knows, by symbol: loaded from the engine's ListMarkets at start and kept
 * current from executions.v1 MarketChanged events. Scales here turn integers into decimal text.
 */
import { type MarketSpec, MarketStatus } from "@excraft/proto";

export class MarketRegistry {
  private readonly bySymbol = new Map<string, MarketSpec>();
  /** Ledger decimals per asset, from the wallet (Wallet.GetAssets) when order entry runs. */
  private readonly decimals = new Map<string, number>();

  setAssetDecimals(assets: Iterable<[string, number]>): void {
    for (const [asset, d] of assets) this.decimals.set(asset, d);
  }

  /** The wallet's ledger decimals of an asset (undefined: not known). */
  assetDecimals(asset: string): number | undefined {
    return this.decimals.get(asset);
  }

  upsert(spec: MarketSpec): void {
    this.bySymbol.set(spec.symbol, spec);
  }

  get(symbol: string): MarketSpec | undefined {
    return this.bySymbol.get(symbol);
  }

  all(): MarketSpec[] {
    return [...this.bySymbol.values()].sort((a, b) =>
      a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0,
    );
  }

  /** Lower-case symbol (as in stream names) → spec. */
  fromStreamSymbol(lower: string): MarketSpec | undefined {
    return this.bySymbol.get(lower.toUpperCase());
  }
}

export function statusName(status: MarketStatus): string {
  switch (status) {
    case MarketStatus.TRADING:
      return "TRADING";
    case MarketStatus.HALT:
      return "HALT";
    case MarketStatus.BREAK:
      return "BREAK";
    default:
      return "BREAK";
  }
}
