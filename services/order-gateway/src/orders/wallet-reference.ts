/**
 * The wallet's reference data as the gateway uses it. The wallet is the only writer of balances and
 * the one that charges fees, so it is also the one source of asset decimals and fee rates: the
 * gateway keeps no copy of either in its configuration.
 *
 * - Asset decimals: Wallet.GetAssets, loaded at start (retried until the wallet answers; `ready` is
 *   false until then) and reloaded when an asset the gateway has not seen turns up.
 * - Fee rates: Wallet.GetFeeRates(account, every market), per-account overrides applied, cached per
 *   account for `ttlMs`. The commission the gateway reports is the wallet's own formula
 *   (units.ts `commissionOf`) with these rates. Neither executions.v1 nor ledger.v1 carries the fee
 *   the wallet booked (a LedgerEvent has balances after the change only), and the RESULT/FULL answer
 *   cannot wait for settlement, so the rates are the wallet's record we can have in time. A rate
 *   change reaches the gateway's reports within `ttlMs`; trades settled in that window are reported
 *   at the previous rate.
 */
import type { Logger } from "@excraft/platform";
import type { FeeRate } from "@excraft/proto";
import type { MarketRegistry } from "../markets.ts";
import type { WalletPort } from "./backends.ts";
import type { FeeRates } from "./units.ts";

/**
 * What the wallet charges in a market it learnt from a MarketChanged event and has no configured
 * rates for (DEFAULT_MAKER_FEE_BPS / DEFAULT_TAKER_FEE_BPS of the wallet): used only when the wallet
 * does not list the market yet.
 */
const WALLET_DEFAULT_FEES: FeeRates = { makerBps: 10, takerBps: 10 };

/** Accounts whose rates are kept before expired entries are dropped (bounded memory). */
const MAX_ACCOUNTS = 100_000;

interface AccountRates {
  fetchedAt: number;
  bySymbol: Map<string, FeeRates & { accountOverride: boolean }>;
}

export interface WalletReferenceOptions {
  wallet: Pick<WalletPort, "assets" | "feeRates">;
  /** Where asset decimals are published (exchangeInfo commission precisions read them there too). */
  markets: MarketRegistry;
  logger: Logger;
  /** How long an account's rates are used before asking the wallet again (default 5 s). */
  ttlMs?: number;
  /** Pause between attempts while the wallet does not answer GetAssets at start (default 1 s). */
  retryMs?: number;
  now?: () => number;
}

export class WalletReference {
  private readonly ttlMs: number;
  private readonly now: () => number;
  private readonly rates = new Map<string, AccountRates>();
  private readonly loading = new Map<string, Promise<AccountRates>>();
  private assetsLoad: Promise<void> | undefined;
  private loaded = false;
  private stopped = false;

  constructor(private readonly o: WalletReferenceOptions) {
    this.ttlMs = o.ttlMs ?? 5_000;
    this.now = o.now ?? Date.now;
  }

  /** True once the wallet's assets are known (readiness). */
  get ready(): boolean {
    return this.loaded;
  }

  /** Ledger decimals of an asset (undefined: the wallet does not know it). */
  decimalsOf = (asset: string): number | undefined => this.o.markets.assetDecimals(asset);

  /** Loads the wallet's assets, retrying until the wallet answers (or `stop`). */
  async start(): Promise<void> {
    const retryMs = this.o.retryMs ?? 1_000;
    for (let attempt = 1; !this.stopped; attempt++) {
      try {
        await this.reloadAssets();
        return;
      } catch (error) {
        this.o.logger.warn({ err: error, attempt }, "wallet GetAssets failed; retrying (not ready)");
        await new Promise((resolve) => setTimeout(resolve, retryMs));
      }
    }
    throw new Error("stopped before the wallet answered GetAssets");
  }

  stop(): void {
    this.stopped = true;
  }

  /** Asks the wallet for its assets again (one request at a time). */
  reloadAssets(): Promise<void> {
    this.assetsLoad ??= (async () => {
      try {
        const assets = await this.o.wallet.assets();
        this.o.markets.setAssetDecimals(assets.map((a) => [a.symbol, a.decimals]));
        this.loaded = true;
      } finally {
        this.assetsLoad = undefined;
      }
    })();
    return this.assetsLoad;
  }

  /**
   * Makes sure the decimals of `assets` and the current rates of `accounts` in `symbols` are at hand,
   * so that the synchronous `cachedFees` answers for them: expired or missing entries are fetched (in
   * parallel). When the wallet cannot be reached, rates fetched before are kept; an account never
   * fetched fails the call (the caller retries).
   */
  async prepare(accounts: Iterable<string>, symbols: Iterable<string> = [], assets: Iterable<string> = []) {
    const wanted = [...symbols];
    const t = this.now();
    const work: Promise<unknown>[] = [];
    if ([...assets].some((a) => this.decimalsOf(a) === undefined)) {
      work.push(
        this.reloadAssets().catch((error) => this.o.logger.warn({ err: error }, "wallet GetAssets failed")),
      );
    }
    for (const account of new Set(accounts)) {
      const cached = this.rates.get(account);
      const fresh = cached !== undefined && t - cached.fetchedAt < this.ttlMs;
      if (fresh && wanted.every((s) => cached.bySymbol.has(s))) continue;
      work.push(
        this.fetch(account).catch((error) => {
          if (!cached) throw error;
          this.o.logger.warn(
            { err: error, account },
            "wallet GetFeeRates failed; using the rates fetched before",
          );
        }),
      );
    }
    await Promise.all(work);
  }

  /** The rates `accountId` pays in `symbol`, from the wallet (cached up to `ttlMs`). */
  async fees(accountId: string, symbol: string): Promise<FeeRates> {
    await this.prepare([accountId], [symbol]);
    return this.cachedFees(accountId, symbol);
  }

  /** The rates `accountId` pays in every market the wallet knows, ordered by symbol. */
  async accountFees(accountId: string): Promise<(FeeRates & { symbol: string; accountOverride: boolean })[]> {
    await this.prepare([accountId]);
    const r = this.rates.get(accountId);
    return [...(r?.bySymbol ?? new Map()).entries()].map(([symbol, f]) => ({ symbol, ...f }));
  }

  /**
   * The last rates fetched for `accountId` in `symbol` (call `prepare` first); the wallet's default
   * for markets it has not listed yet.
   */
  cachedFees = (accountId: string, symbol: string): FeeRates => {
    const f = this.rates.get(accountId)?.bySymbol.get(symbol);
    return f ? { makerBps: f.makerBps, takerBps: f.takerBps } : WALLET_DEFAULT_FEES;
  };

  private sweep(): void {
    const t = this.now();
    for (const [account, r] of this.rates) if (t - r.fetchedAt >= this.ttlMs) this.rates.delete(account);
  }

  private fetch(accountId: string): Promise<AccountRates> {
    let p = this.loading.get(accountId);
    if (!p) {
      const at = this.now();
      p = this.o.wallet
        .feeRates(accountId, "")
        .then((list: FeeRate[]) => {
          const entry: AccountRates = {
            fetchedAt: at,
            bySymbol: new Map(
              list.map((r) => [
                r.symbol,
                { makerBps: r.makerFeeBps, takerBps: r.takerFeeBps, accountOverride: r.accountOverride },
              ]),
            ),
          };
          this.rates.set(accountId, entry);
          if (this.rates.size > MAX_ACCOUNTS) this.sweep();
          return entry;
        })
        .finally(() => this.loading.delete(accountId));
      this.loading.set(accountId, p);
    }
    return p;
  }
}
