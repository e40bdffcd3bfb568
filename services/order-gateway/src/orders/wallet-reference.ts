/**
 * The wallet's reference data as the gateway uses it. The wallet is the only writer of balances and
 * the one that charges fees, so it is also the one source of asset decimals and fee rates: the
 * gateway keeps no copy of either in its configuration.
 *
 * - Asset decimals: Wallet.GetAssets, loaded at start (retried until the wallet answers; `ready` is
 *   false until then) and reloaded when an asset the gateway has not seen turns up.
 * - Fee rates: Wallet.GetFeeRates(account, every market), per-account overrides applied. The wallet
 *   charges a trade the rates in force at the trade's time (its executions.v1 header time) from an
 *   append-only fee schedule whose changes take effect only after a notice period; an answer carries
 *   the rates at a time, every change scheduled after it, and `stable_until_ms`, before which no other
 *   change can take effect. The commission the gateway reports for a trade at time t is the wallet's
 *   own formula (units.ts `commissionOf`) with the rates in force at t from a cached answer that covers
 *   t (at_time_ms ≤ t < stable_until_ms) — so it equals what the ledger books, also across a rate
 *   change — and a trade older than the cached answer is looked up at its own time. Neither
 *   executions.v1 nor ledger.v1 carries the fee booked, and a RESULT/FULL answer cannot wait for
 *   settlement: the schedule is what makes the reported fee exact in time.
 */
import type { Logger } from "@excraft/platform";
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

interface RatesFrom extends FeeRates {
  /** In force from this time (ms) on; the rates of an answer's `at_time_ms` have that time. */
  fromMs: number;
  accountOverride: boolean;
}

/** One GetFeeRates answer for an account: every market's rates over [atMs, stableUntilMs). */
interface AccountRates {
  fetchedAt: number;
  atMs: number;
  stableUntilMs: number;
  /** Per market: the rates at `atMs`, then each scheduled change, in time order. */
  bySymbol: Map<string, RatesFrom[]>;
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
  /** Assets the wallet deposits and withdraws on chain (GetAssets `on_chain`: ETH, EXT when its chain gateway runs). */
  private onChain = new Set<string>();
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
        this.onChain = new Set(assets.filter((a) => a.onChain).map((a) => a.symbol));
        this.loaded = true;
      } finally {
        this.assetsLoad = undefined;
      }
    })();
    return this.assetsLoad;
  }

  /**
   * An asset as the wallet lists it (ledger decimals, whether it moves on chain), asking the wallet
   * again when it is not known yet; undefined when the wallet does not know it. Fails (-1001) only if
   * the wallet cannot be reached for an asset never seen.
   */
  async asset(symbol: string): Promise<{ decimals: number; onChain: boolean } | undefined> {
    if (this.decimalsOf(symbol) === undefined) await this.reloadAssets();
    const decimals = this.decimalsOf(symbol);
    return decimals === undefined ? undefined : { decimals, onChain: this.onChain.has(symbol) };
  }

  /** The on-chain assets, sorted (for messages). */
  onChainAssets(): string[] {
    return [...this.onChain].sort();
  }

  /**
   * Makes sure the decimals of `assets` and the rates of `accounts` in `symbols` are at hand, so that
   * the synchronous `cachedFees` answers for them: for the trade times given per account in
   * `tradeTimes` (default: now), fetching (in parallel) the accounts whose cached answer does not cover
   * those times. When the wallet cannot be reached, rates fetched before are kept; an account never
   * fetched fails the call (the caller retries).
   */
  async prepare(
    accounts: Iterable<string>,
    symbols: Iterable<string> = [],
    assets: Iterable<string> = [],
    tradeTimes?: ReadonlyMap<string, { min: number; max: number }>,
  ) {
    const wanted = [...symbols];
    const t = this.now();
    const work: Promise<unknown>[] = [];
    if ([...assets].some((a) => this.decimalsOf(a) === undefined)) {
      work.push(
        this.reloadAssets().catch((error) => this.o.logger.warn({ err: error }, "wallet GetAssets failed")),
      );
    }
    for (const account of new Set(accounts)) {
      const times = tradeTimes?.get(account) ?? { min: t, max: t };
      const cached = this.rates.get(account);
      // Final for every time in [atMs, stableUntilMs): no change outside the answer can apply there.
      const covers =
        cached !== undefined &&
        cached.atMs <= times.min &&
        times.max < cached.stableUntilMs &&
        wanted.every((s) => cached.bySymbol.has(s));
      if (covers) continue;
      // An answer at the oldest trade's time covers every later one up to its stable_until_ms.
      const at = tradeTimes?.has(account) && times.min < t ? times.min : undefined;
      work.push(
        this.fetch(account, at).catch((error) => {
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

  /** The rates `accountId` pays in `symbol` now, from the wallet (cached up to `ttlMs`). */
  async fees(accountId: string, symbol: string): Promise<FeeRates> {
    await this.prepare([accountId], [symbol]);
    return this.cachedFees(accountId, symbol);
  }

  /** The rates `accountId` pays now in every market the wallet knows, ordered by symbol. */
  async accountFees(accountId: string): Promise<(FeeRates & { symbol: string; accountOverride: boolean })[]> {
    await this.prepare([accountId]);
    const r = this.rates.get(accountId);
    const t = this.now();
    return [...(r?.bySymbol.entries() ?? [])].map(([symbol, list]) => {
      const f = inForce(list, t);
      return { symbol, makerBps: f.makerBps, takerBps: f.takerBps, accountOverride: f.accountOverride };
    });
  }

  /**
   * The rates `accountId` pays in `symbol` at `timeMs` (a trade's executions.v1 time; default now) from
   * the cached answer (call `prepare` with that time first); the wallet's default for markets it has
   * not listed yet.
   */
  cachedFees = (accountId: string, symbol: string, timeMs?: number): FeeRates => {
    const list = this.rates.get(accountId)?.bySymbol.get(symbol);
    if (!list) return WALLET_DEFAULT_FEES;
    const f = inForce(list, timeMs ?? this.now());
    return { makerBps: f.makerBps, takerBps: f.takerBps };
  };

  private sweep(): void {
    const t = this.now();
    for (const [account, r] of this.rates) if (t - r.fetchedAt >= this.ttlMs) this.rates.delete(account);
  }

  private fetch(accountId: string, atMs?: number): Promise<AccountRates> {
    const key = `${accountId}@${atMs ?? "now"}`;
    let p = this.loading.get(key);
    if (!p) {
      const fetchedAt = this.now();
      p = this.o.wallet
        .feeRates(accountId, "", atMs)
        .then((answer) => {
          const answeredAt = Number(answer.atTimeMs);
          const entry: AccountRates = {
            fetchedAt,
            atMs: answeredAt,
            stableUntilMs: Number(answer.stableUntilMs),
            bySymbol: new Map(
              answer.rates.map((r) => [
                r.symbol,
                [
                  {
                    fromMs: answeredAt,
                    makerBps: r.makerFeeBps,
                    takerBps: r.takerFeeBps,
                    accountOverride: r.accountOverride,
                  },
                  ...r.upcoming.map((u) => ({
                    fromMs: Number(u.effectiveFromMs),
                    makerBps: u.makerFeeBps,
                    takerBps: u.takerFeeBps,
                    accountOverride: u.accountOverride,
                  })),
                ],
              ]),
            ),
          };
          this.rates.set(accountId, entry);
          if (this.rates.size > MAX_ACCOUNTS) this.sweep();
          return entry;
        })
        .finally(() => this.loading.delete(key));
      this.loading.set(key, p);
    }
    return p;
  }
}

/** The last of `list` (time order, first = the answer's own time) in force at `t`. */
function inForce(list: RatesFrom[], t: number): RatesFrom {
  let f = list[0]!;
  for (let i = 1; i < list.length && list[i]!.fromMs <= t; i++) f = list[i]!;
  return f;
}
