import type { ExecutionEvent } from "@excraft/proto";
import type pg from "pg";
import {
  type BalanceView,
  type Command,
  type CommandResult,
  type ExecutionsResult,
  evaluate,
  executionOrderIds,
  IN_PLACE_KINDS,
  type Reference,
  tradeParties,
} from "./commands";
import { invalid, WalletError } from "./errors";
import {
  DEFAULT_FEE_CHANGE_NOTICE_MS,
  DEFAULT_MAKER_FEE_BPS,
  DEFAULT_TAKER_FEE_BPS,
  EVERY_MARKET,
  type FeeRateChange,
  FeeSchedule,
  type FeeScheduleEntry,
  MAX_EFFECTIVE_MS,
} from "./fees";
import {
  type AssetInfo,
  balanceKey,
  type HoldState,
  Layer,
  type MarketConfig,
  type PostingRow,
  type ProgressState,
} from "./state";
import { INT64_MAX } from "./units";

/** Holds cached before the first prune of drained ones. */
const HOLD_CACHE_PRUNE_AT = 500_000;

export interface LedgerOptions {
  /** Most commands written in one transaction (group commit). Default 2000. */
  maxBatch?: number;
  /** Batches in flight at once (see drain). Default 2; 1 = strictly one transaction at a time. */
  pipeline?: number;
  /** Insert new reservations' holds without looking the order id up first (see prefetch). Default true. */
  optimisticReservations?: boolean;
  /**
   * Send the batch statement as a named (prepared, generic-plan) statement on the writer connections,
   * which skips parsing and planning the large statement for every batch. Default true.
   */
  preparedStatements?: boolean;
  /** Clock for API-originated entries and fee changes (executions use the event's time). */
  now?: () => number;
  /**
   * Least time (ms) between recording a fee change and its taking effect (FEE_CHANGE_NOTICE_MS).
   * Default 10 000. Clients that cache GetFeeRates for less than this always know the rates of a trade.
   */
  feeChangeNoticeMs?: number;
  /** Called after each committed batch (for metrics). */
  onBatch?: (size: number, millis: number) => void;
  /** Called after a fee schedule entry is recorded (for logs and metrics). */
  onFeeChange?: (entry: FeeScheduleEntry) => void;
}

/**
 * A change of the fee schedule (see fees.ts). Rates are bps, 0..10000; both null ends an account's
 * override (from then on its every-market override or the market's rates apply again).
 */
export interface FeeChange {
  /** The market, or "*" for an account's override in every market. */
  symbol: string;
  /** "" = the market's own rates; otherwise this account's override. */
  accountId: string;
  makerFeeBps: number | null;
  takerFeeBps: number | null;
  /** When it takes effect (ms since 1970); undefined = as soon as allowed (`earliestFeeChangeMs`). */
  effectiveFromMs?: number;
  actor: string;
  reason: string;
}

interface Pending {
  cmd: Command;
  resolve: (r: CommandResult) => void;
  reject: (e: unknown) => void;
}

/** A batch evaluated and being written. */
interface Inflight {
  batch: Pending[];
  layer: Layer;
  firstEntryId: bigint;
  outcomes: { ok: boolean; value: unknown }[];
  keys: Set<string>;
  started: number;
  /** Resolves true once committed, false if the write failed (never rejects). */
  done: Promise<boolean>;
  error: unknown;
}

function intersects(a: Set<string>, b: Set<string>): boolean {
  const [small, big] = a.size < b.size ? [a, b] : [b, a];
  for (const k of small) if (big.has(k)) return true;
  return false;
}

export interface FeeRateView {
  symbol: string;
  /** In force at the time asked for (now by default). */
  makerFeeBps: number;
  takerFeeBps: number;
  accountOverride: boolean;
  /** Every later change for this account in this market, in time order (already scheduled). */
  upcoming: FeeRateChange[];
}

/** What a client needs to know how long fee rates it fetched stay exact. */
export interface FeeChangeWindow {
  /** The wallet's clock. */
  nowMs: number;
  /** FEE_CHANGE_NOTICE_MS. */
  noticeMs: number;
  /** No change not yet recorded can take effect before this (the earliest effective time allowed now). */
  stableUntilMs: number;
}

export interface AuditAsset {
  asset: string;
  sumOfBalances: bigint;
  /** deposits − withdrawals + minted + operator credits − operator debits, from external_flows. */
  expected: bigint;
  /** −(running total of the @external contra account), from the journal. */
  externalTotal: bigint;
  locked: bigint;
  held: bigint;
  balanced: boolean;
}

export interface AuditReport {
  assets: AuditAsset[];
  /** Entries whose postings do not sum to zero per asset (must be 0). */
  unbalancedEntries: number;
  /** Balance rows that differ from the sum of their postings (must be 0). */
  journalMismatches: number;
  ok: boolean;
}

const WRITER_LOCK = 4242002;
const ACCOUNT_RE = /^[A-Za-z0-9][A-Za-z0-9:._-]{0,63}$/;
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9:._/-]{0,127}$/;

export function checkAccount(id: string, field = "account_id"): void {
  if (!ACCOUNT_RE.test(id)) throw invalid(field, `malformed account id ${JSON.stringify(id)}`);
}
export function checkId(id: string, field: string): void {
  if (!ID_RE.test(id)) throw invalid(field, `malformed ${field} ${JSON.stringify(id)}`);
}
export function checkAmount(amount: bigint, field = "amount", allowZero = false): void {
  if (typeof amount !== "bigint") throw invalid(field, `${field} must be an integer`);
  if (amount < 0n || (!allowZero && amount === 0n)) {
    throw invalid(field, `${field} must be ${allowZero ? "≥ 0" : "> 0"}, got ${amount}`);
  }
  if (amount > INT64_MAX) throw invalid(field, `${field} exceeds int64`);
}

/** Actor of the fee schedule entries made from the wallet's configuration (WALLET_MARKETS). */
export const CONFIGURATION_ACTOR = "configuration";

export function checkBps(bps: number, field: string): void {
  if (!Number.isInteger(bps) || bps < 0 || bps > 10_000) {
    throw invalid(field, `${field} must be an integer from 0 to 10000 (basis points), got ${bps}`);
  }
}

function checkEffectiveTime(ms: number, field: string): void {
  if (!Number.isSafeInteger(ms) || ms < 0 || ms > MAX_EFFECTIVE_MS) {
    throw invalid(field, `${field} must be ms since 1970 (0..${MAX_EFFECTIVE_MS}), got ${ms}`);
  }
}

const sameRates = (
  a: Pick<FeeScheduleEntry, "makerFeeBps" | "takerFeeBps">,
  b: Pick<FeeScheduleEntry, "makerFeeBps" | "takerFeeBps">,
) => a.makerFeeBps === b.makerFeeBps && a.takerFeeBps === b.takerFeeBps;

function conflict(existing: FeeScheduleEntry): WalletError {
  const scope =
    existing.accountId === "" ? `market ${existing.symbol}` : `${existing.accountId} in ${existing.symbol}`;
  return new WalletError(
    "ALREADY_EXISTS",
    `another fee change for ${scope} is already scheduled at ${existing.effectiveFromMs} (the schedule is append-only: schedule a later change instead)`,
    "effective_from_ms",
  );
}

/** A fee_schedule row as an entry. */
function feeEntryOf(r: Record<string, unknown>): FeeScheduleEntry {
  return {
    entryId: Number(r.entry_id),
    accountId: r.account_id as string,
    symbol: r.symbol as string,
    effectiveFromMs: Number(r.effective_from_ms),
    makerFeeBps: r.maker_fee_bps as number | null,
    takerFeeBps: r.taker_fee_bps as number | null,
    recordedAtMs: Number(r.recorded_at_ms),
    actor: r.actor as string,
    reason: r.reason as string,
  };
}

async function insertFee(db: pg.Pool | pg.PoolClient, e: FeeScheduleEntry): Promise<FeeScheduleEntry> {
  const r = await db.query(
    `insert into fee_schedule (account_id, symbol, effective_from_ms, maker_fee_bps, taker_fee_bps, recorded_at_ms, actor, reason)
     values ($1, $2, $3, $4, $5, $6, $7, $8) returning *`,
    [
      e.accountId,
      e.symbol,
      e.effectiveFromMs,
      e.makerFeeBps,
      e.takerFeeBps,
      e.recordedAtMs,
      e.actor,
      e.reason,
    ],
  );
  return feeEntryOf(r.rows[0]);
}

/**
 * The double-entry ledger and its single writer.
 *
 * Every state change is a Command. Commands queue up; one batch at a time is evaluated in memory
 * against a cache of committed state (each command in its own copy-on-write layer, so a refused
 * command changes nothing) and then written in ONE SQL statement — journal entries, postings,
 * balance deltas, holds, flows, fee totals and consumer progress — which PostgreSQL commits
 * atomically and durably before any caller is answered (group commit). The balance update checks
 * that the database agrees with the cache; CHECK constraints refuse negative balances. If the
 * statement fails, the cache is dropped and the batch's commands are retried one by one.
 */
export class Ledger {
  private readonly queue: Pending[] = [];
  private inflight: Inflight[] = [];
  private readonly pipeline: number;
  private running = false;
  private cache!: Layer;
  private assets = new Map<string, AssetInfo>();
  /** Cache size at which drained holds are next pruned (see commitToCache). */
  private nextHoldPruneAt = HOLD_CACHE_PRUNE_AT;
  /** The fee schedule (in memory; `fee_schedule` in PostgreSQL). Changed only by exclusive tasks. */
  private fees = new FeeSchedule();
  /** Tasks that must run with no batch in flight (fee changes), in order; see runExclusive. */
  private readonly exclusive: {
    run: () => Promise<unknown>;
    resolve: (v: unknown) => void;
    reject: (e: unknown) => void;
  }[] = [];
  readonly feeChangeNoticeMs: number;
  private readonly maxBatch: number;
  private readonly clock: () => number;
  private closed = false;
  private readonly ref: Reference;
  private lockClient: pg.PoolClient | undefined;
  /** Connections that write batches (one per batch in flight), set up for prepared batch statements. */
  private readonly writers: pg.PoolClient[] = [];
  private writersOut = 0;
  /** Counters for metrics: committed batches, failed batches (each followed by one-by-one retries). */
  readonly stats = { batches: 0, failedBatches: 0, lastError: "" };

  private constructor(
    readonly pool: pg.Pool,
    private readonly options: LedgerOptions,
  ) {
    this.maxBatch = options.maxBatch ?? 2000;
    this.pipeline = Math.max(1, options.pipeline ?? 2);
    this.clock = options.now ?? Date.now;
    this.feeChangeNoticeMs = options.feeChangeNoticeMs ?? DEFAULT_FEE_CHANGE_NOTICE_MS;
    if (!Number.isSafeInteger(this.feeChangeNoticeMs) || this.feeChangeNoticeMs < 0) {
      throw new Error(`feeChangeNoticeMs must be an integer ≥ 0, got ${this.feeChangeNoticeMs}`);
    }
    this.ref = {
      asset: (s) => this.assets.get(s),
      feeBps: (accountId, symbol, role, timeMs) => this.fees.bps(accountId, symbol, role, timeMs),
      now: () => BigInt(this.clock()),
    };
  }

  /**
   * Opens the ledger on a migrated database and loads reference data and the writer's position.
   * Only one writer may own a database: it holds a session advisory lock until close (a killed
   * process loses it with its connection). A second writer waits up to `lockTimeoutMs`.
   */
  static async open(
    pool: pg.Pool,
    options: LedgerOptions & { lockTimeoutMs?: number } = {},
  ): Promise<Ledger> {
    const ledger = new Ledger(pool, options);
    const client = await pool.connect();
    const deadline = Date.now() + (options.lockTimeoutMs ?? 0);
    for (;;) {
      const r = await client.query("select pg_try_advisory_lock($1) as ok", [WRITER_LOCK]);
      if (r.rows[0].ok) break;
      if (Date.now() >= deadline) {
        client.release();
        throw new WalletError("FAILED_PRECONDITION", "another wallet writer owns this database");
      }
      await new Promise((res) => setTimeout(res, 100));
    }
    ledger.lockClient = client;
    await ledger.reload();
    return ledger;
  }

  private async reload(): Promise<void> {
    const [assets, markets, schedule, progress, maxId] = await Promise.all([
      this.pool.query("select symbol, decimals, contract_address from assets"),
      this.pool.query("select * from markets"),
      this.pool.query("select * from fee_schedule order by entry_id"),
      this.pool.query("select stream, shard, epoch, sequence, time_ms from consumer_progress"),
      this.pool.query("select coalesce(max(entry_id), 0) as m from journal_entries"),
    ]);
    this.assets = new Map(
      assets.rows.map((r) => [
        r.symbol,
        { symbol: r.symbol, decimals: r.decimals, contractAddress: r.contract_address },
      ]),
    );
    const fees = new FeeSchedule();
    for (const r of schedule.rows) fees.add(feeEntryOf(r));
    this.fees = fees;
    const cache = new Layer(null, BigInt(maxId.rows[0].m) + 1n);
    for (const r of markets.rows) {
      cache.markets.set(r.symbol, {
        symbol: r.symbol,
        baseAsset: r.base_asset,
        quoteAsset: r.quote_asset,
        priceScale: r.price_scale,
        quantityScale: r.quantity_scale,
        makerFeeBps: r.maker_fee_bps,
        takerFeeBps: r.taker_fee_bps,
      });
    }
    for (const r of progress.rows) {
      cache.progress.set(`${r.stream}#${r.shard}`, {
        epoch: BigInt(r.epoch),
        sequence: BigInt(r.sequence),
        timeMs: BigInt(r.time_ms),
      });
    }
    this.cache = cache;
  }

  // ---------------------------------------------------------------- reference data

  async registerAsset(asset: AssetInfo): Promise<void> {
    if (!/^[A-Z0-9]{1,20}$/.test(asset.symbol))
      throw invalid("symbol", `malformed asset symbol ${asset.symbol}`);
    if (!Number.isInteger(asset.decimals) || asset.decimals < 0 || asset.decimals > 36) {
      throw invalid("decimals", "decimals must be an integer in 0..36");
    }
    await this.pool.query(
      `insert into assets (symbol, decimals, contract_address) values ($1, $2, $3)
       on conflict (symbol) do update set contract_address = excluded.contract_address
       where assets.decimals = excluded.decimals`,
      [asset.symbol, asset.decimals, asset.contractAddress],
    );
    const row = await this.pool.query("select decimals from assets where symbol = $1", [asset.symbol]);
    if (row.rows[0].decimals !== asset.decimals) {
      throw new WalletError("FAILED_PRECONDITION", `asset ${asset.symbol} exists with other decimals`);
    }
    this.assets.set(asset.symbol, { ...asset });
  }

  listAssets(): AssetInfo[] {
    return [...this.assets.values()];
  }

  asset(symbol: string): AssetInfo {
    const a = this.assets.get(symbol);
    if (!a) throw new WalletError("UNKNOWN_ASSET", `unknown asset ${JSON.stringify(symbol)}`, "asset");
    return a;
  }

  /**
   * Registers or updates a market: its scales, and its fee rates through the fee schedule.
   * - A market seen for the first time gets its rates from the beginning (no trade of it can exist yet).
   * - Otherwise the rates are applied only when they differ from what the configuration last set (the
   *   schedule's latest entry by CONFIGURATION_ACTOR): as a change at the earliest allowed time.
   *   Unchanged configuration changes nothing, so a restart never undoes changes made with SetFeeRate.
   * MarketChanged events update scales only.
   */
  async configureMarket(market: MarketConfig): Promise<void> {
    this.asset(market.baseAsset);
    this.asset(market.quoteAsset);
    checkBps(market.makerFeeBps, "maker_fee_bps");
    checkBps(market.takerFeeBps, "taker_fee_bps");
    const { symbol, makerFeeBps, takerFeeBps } = market;
    const change = { symbol, accountId: "", makerFeeBps, takerFeeBps, actor: CONFIGURATION_ACTOR };
    await this.runExclusive(async () => {
      const entries = this.fees.entriesOf("", symbol);
      if (entries.length === 0) {
        if (this.cache.lookupMarket(symbol) === undefined) {
          await this.recordFee({ ...change, effectiveFromMs: 0, reason: "market registered" });
          return;
        }
        // Known from MarketChanged only: its trades so far paid the default rates. Write that down first.
        await this.recordFee({
          ...change,
          makerFeeBps: DEFAULT_MAKER_FEE_BPS,
          takerFeeBps: DEFAULT_TAKER_FEE_BPS,
          effectiveFromMs: 0,
          actor: "default",
          reason: "default rates of a market known from MarketChanged before it was configured",
        });
      } else {
        let lastConfigured: FeeScheduleEntry | undefined;
        for (const e of entries) {
          if (e.actor === CONFIGURATION_ACTOR && e.entryId > (lastConfigured?.entryId ?? -1))
            lastConfigured = e;
        }
        if (lastConfigured && sameRates(lastConfigured, change)) return;
      }
      // Recorded even when these rates are already in force then, so the configuration is known applied.
      await this.scheduleFee({ ...change, reason: "market rates from configuration" }, { record: true });
    });
    await this.submit({ kind: "market", market: { ...market } });
  }

  market(symbol: string): MarketConfig | undefined {
    return this.tip().lookupMarket(symbol);
  }

  /**
   * Schedules an account's fee override in one market (or "*": every market), from `effectiveFromMs`
   * (default: as soon as allowed). See setFeeRate.
   */
  async setFeeOverride(
    accountId: string,
    symbol: string,
    makerFeeBps: number,
    takerFeeBps: number,
    effectiveFromMs?: number,
  ): Promise<FeeScheduleEntry> {
    checkAccount(accountId);
    return this.setFeeRate({
      symbol,
      accountId,
      makerFeeBps,
      takerFeeBps,
      ...(effectiveFromMs === undefined ? {} : { effectiveFromMs }),
      actor: "ledger-api",
      reason: "fee override",
    });
  }

  /** Ends an account's override in one market (or "*") from `effectiveFromMs` (default: as soon as allowed). */
  async removeFeeOverride(
    accountId: string,
    symbol: string,
    effectiveFromMs?: number,
  ): Promise<FeeScheduleEntry> {
    checkAccount(accountId);
    return this.setFeeRate({
      symbol,
      accountId,
      makerFeeBps: null,
      takerFeeBps: null,
      ...(effectiveFromMs === undefined ? {} : { effectiveFromMs }),
      actor: "ledger-api",
      reason: "fee override removed",
    });
  }

  /**
   * Records a change of the fee schedule: a market's rates or an account's override, from
   * `effectiveFromMs`. It may only take effect in the future — at least `feeChangeNoticeMs` after now,
   * and after every event already settled — so no trade ever settled is priced differently by it;
   * earlier times are refused. Returns the entry recorded, or the existing one when nothing needs to be
   * recorded (the same change again, or rates the scope already has from then on). Durable on return.
   */
  async setFeeRate(change: FeeChange): Promise<FeeScheduleEntry> {
    const { symbol, accountId } = change;
    if (accountId !== "") checkAccount(accountId);
    if (symbol === "")
      throw invalid("symbol", 'symbol is required (a market, or "*" for an account override)');
    if (symbol === EVERY_MARKET) {
      if (accountId === "") {
        throw invalid("symbol", 'a market\'s own rates need a market symbol ("*" is for account overrides)');
      }
    } else if (!this.market(symbol)) {
      throw new WalletError("NOT_FOUND", `unknown market ${JSON.stringify(symbol)}`, "symbol");
    }
    if (change.makerFeeBps === null || change.takerFeeBps === null) {
      if (change.makerFeeBps !== change.takerFeeBps) {
        throw invalid("maker_fee_bps", "give both maker and taker rates (or neither, to end an override)");
      }
      if (accountId === "") throw invalid("account_id", "only an account's override can be removed");
    } else {
      checkBps(change.makerFeeBps, "maker_fee_bps");
      checkBps(change.takerFeeBps, "taker_fee_bps");
    }
    if (change.effectiveFromMs !== undefined) checkEffectiveTime(change.effectiveFromMs, "effective_from_ms");
    if (!change.reason.trim()) throw invalid("reason", "a reason is required for a fee change");
    if (!change.actor.trim()) throw invalid("operator", "operator is required");
    return this.runExclusive(() => this.scheduleFee(change));
  }

  /**
   * The earliest time a fee change recorded now may take effect: `feeChangeNoticeMs` from now, and
   * after the newest event already settled (a trade from a clock ahead of the wallet's).
   */
  earliestFeeChangeMs(nowMs = this.clock()): number {
    return Math.max(nowMs + this.feeChangeNoticeMs, this.settledUpToMs() + 1);
  }

  /** The whole fee schedule, in the order it was recorded (for audits and for rebuilding a ledger). */
  feeSchedule(): FeeScheduleEntry[] {
    return this.fees.all();
  }

  /**
   * Copies another wallet's fee schedule (its `feeSchedule()`) into this one, keeping effective times,
   * for rebuilding a ledger by replaying executions.v1 into a fresh database: import first, then replay.
   * Entries already here identically are skipped; anything that would price an event already settled
   * here differently, or contradict an entry here, is refused and nothing is imported.
   */
  async importFeeSchedule(entries: FeeScheduleEntry[]): Promise<number> {
    for (const e of entries) {
      if (e.accountId !== "") checkAccount(e.accountId);
      if (e.symbol === "" || (e.symbol === EVERY_MARKET && e.accountId === "")) {
        throw invalid("symbol", `bad fee schedule entry symbol ${JSON.stringify(e.symbol)}`);
      }
      if (e.makerFeeBps === null || e.takerFeeBps === null) {
        if (e.makerFeeBps !== e.takerFeeBps || e.accountId === "")
          throw invalid("maker_fee_bps", "bad fee schedule entry rates");
      } else {
        checkBps(e.makerFeeBps, "maker_fee_bps");
        checkBps(e.takerFeeBps, "taker_fee_bps");
      }
      checkEffectiveTime(e.effectiveFromMs, "effective_from_ms");
    }
    return this.runExclusive(async () => {
      const settled = this.settledUpToMs();
      const fresh: FeeScheduleEntry[] = [];
      const seen = new Set<string>();
      for (const e of [...entries].sort((a, b) => a.entryId - b.entryId)) {
        const scope = `${e.accountId}|${e.symbol}|${e.effectiveFromMs}`;
        const here = this.fees
          .entriesOf(e.accountId, e.symbol)
          .find((x) => x.effectiveFromMs === e.effectiveFromMs);
        if (here) {
          if (!sameRates(here, e)) throw conflict(here);
          continue;
        }
        if (seen.has(scope)) throw invalid("effective_from_ms", `two entries for ${scope}`);
        seen.add(scope);
        if (e.effectiveFromMs <= settled) {
          throw new WalletError(
            "FAILED_PRECONDITION",
            `cannot import a fee entry effective from ${e.effectiveFromMs}: events up to ${settled} are already settled here`,
            "effective_from_ms",
          );
        }
        fresh.push(e);
      }
      const client = await this.pool.connect();
      const recorded: FeeScheduleEntry[] = [];
      try {
        await client.query("begin");
        for (const e of fresh) recorded.push(await insertFee(client, e));
        await client.query("commit");
      } catch (error) {
        await client.query("rollback").catch(() => {});
        throw error;
      } finally {
        client.release();
      }
      for (const e of recorded) {
        this.fees.add(e);
        this.options.onFeeChange?.(e);
      }
      return recorded.length;
    });
  }

  /** Newest event header time settled or being settled (−1 before the first). */
  private settledUpToMs(): number {
    let settled = -1n;
    for (const f of [this.cache, ...this.inflight.map((x) => x.layer)]) {
      for (const p of f.progress.values()) if (p.timeMs > settled) settled = p.timeMs;
    }
    return Number(settled);
  }

  /**
   * setFeeRate once validated; runs as an exclusive task (nothing in flight). Without `record`, a change
   * to the rates the scope already has at that time records nothing.
   */
  private async scheduleFee(change: FeeChange, options = { record: false }): Promise<FeeScheduleEntry> {
    const earliest = this.earliestFeeChangeMs();
    const effectiveFromMs = change.effectiveFromMs ?? earliest;
    const current = this.fees.entryInForce(change.accountId, change.symbol, effectiveFromMs);
    const atThatTime = current?.effectiveFromMs === effectiveFromMs ? current : undefined;
    if (atThatTime && sameRates(atThatTime, change)) return atThatTime; // a retry, however late
    if (effectiveFromMs < earliest) {
      throw invalid(
        "effective_from_ms",
        `effective_from_ms ${effectiveFromMs} is too early: a fee change takes effect at least ${this.feeChangeNoticeMs} ms after it is made (FEE_CHANGE_NOTICE_MS) and after every trade already settled; the earliest allowed now is ${earliest}`,
      );
    }
    if (atThatTime) throw conflict(atThatTime);
    // Already the scope's rates from then on (or no override to end): nothing to record.
    if (current && sameRates(current, change) && !options.record) return current;
    if (!current && change.makerFeeBps === null) {
      throw new WalletError(
        "NOT_FOUND",
        `account ${change.accountId} has no fee override in ${change.symbol} at ${effectiveFromMs} to end`,
        "symbol",
      );
    }
    return this.recordFee({ ...change, effectiveFromMs });
  }

  /** Writes one entry (durably) and indexes it. Exclusive tasks only. */
  private async recordFee(change: FeeChange & { effectiveFromMs: number }): Promise<FeeScheduleEntry> {
    const entry = await insertFee(this.pool, {
      entryId: 0,
      accountId: change.accountId,
      symbol: change.symbol,
      effectiveFromMs: change.effectiveFromMs,
      makerFeeBps: change.makerFeeBps,
      takerFeeBps: change.takerFeeBps,
      recordedAtMs: this.clock(),
      actor: change.actor,
      reason: change.reason,
    });
    this.fees.add(entry);
    this.options.onFeeChange?.(entry);
    return entry;
  }

  // ---------------------------------------------------------------- commands

  /** Locks `amount` of free balance for an order. Idempotent by order id. Durable on return. */
  async reserve(accountId: string, asset: string, amount: bigint, orderId: string): Promise<BalanceView> {
    checkAccount(accountId);
    this.asset(asset);
    checkAmount(amount);
    checkId(orderId, "order_id");
    return (await this.submit({ kind: "reserve", accountId, asset, amount, orderId })) as BalanceView;
  }

  /** Returns `amount` (0 = all that is left) of an order's hold to free balance. */
  async release(accountId: string, orderId: string, amount: bigint): Promise<BalanceView> {
    checkAccount(accountId);
    checkId(orderId, "order_id");
    checkAmount(amount, "amount", true);
    return (await this.submit({ kind: "release", accountId, orderId, amount })) as BalanceView;
  }

  /** Moves free balance between accounts (one side must be a system account). Idempotent by transfer id. */
  async transfer(
    transferId: string,
    from: string,
    to: string,
    asset: string,
    amount: bigint,
    reason: string,
  ): Promise<void> {
    checkId(transferId, "transfer_id");
    checkAccount(from, "from_account_id");
    checkAccount(to, "to_account_id");
    if (from === to) throw invalid("to_account_id", "cannot transfer to the same account");
    this.asset(asset);
    checkAmount(amount);
    if (!reason.trim()) throw invalid("reason", "reason is required");
    await this.submit({ kind: "transfer", transferId, from, to, asset, amount, reason });
  }

  /** Operator credit (> 0) or debit (< 0) with a mandatory reason. Idempotent by adjustment id. */
  async adjust(
    adjustmentId: string,
    accountId: string,
    asset: string,
    amount: bigint,
    reason: string,
    operator: string,
  ): Promise<BalanceView> {
    checkId(adjustmentId, "adjustment_id");
    checkAccount(accountId);
    this.asset(asset);
    if (amount === 0n) throw invalid("amount", "amount must not be zero");
    checkAmount(amount < 0n ? -amount : amount);
    if (!reason.trim()) throw invalid("reason", "reason is mandatory for operator adjustments");
    if (!operator.trim()) throw invalid("operator", "operator is required");
    return (await this.submit({
      kind: "flow",
      flow: "adjust",
      reference: adjustmentId,
      accountId,
      asset,
      amount,
      reason,
      operator,
    })) as BalanceView;
  }

  /** Credits a confirmed deposit (idempotent by its reference, e.g. "<txhash>:<logIndex>"). */
  deposit(reference: string, accountId: string, asset: string, amount: bigint): Promise<BalanceView> {
    return this.flow("deposit", reference, accountId, asset, amount, "deposit");
  }

  /** Debits a withdrawal (idempotent by withdrawal id). */
  withdraw(reference: string, accountId: string, asset: string, amount: bigint): Promise<BalanceView> {
    return this.flow("withdrawal", reference, accountId, asset, amount, "withdrawal");
  }

  /** Pays a withdrawal out of the hold `holdOrderId` (see chain withdrawals). Idempotent by reference. */
  async withdrawFromHold(
    reference: string,
    accountId: string,
    asset: string,
    amount: bigint,
    holdOrderId: string,
  ): Promise<BalanceView> {
    checkId(reference, "reference");
    checkAccount(accountId);
    this.asset(asset);
    checkAmount(amount);
    return (await this.submit({
      kind: "flow",
      flow: "withdrawal",
      reference,
      accountId,
      asset,
      amount,
      reason: "withdrawal",
      operator: "",
      holdOrderId,
    })) as BalanceView;
  }

  /** Mints rewards into an account (idempotent by reward period reference). */
  mint(
    reference: string,
    accountId: string,
    asset: string,
    amount: bigint,
    reason: string,
  ): Promise<BalanceView> {
    return this.flow("mint", reference, accountId, asset, amount, reason);
  }

  private async flow(
    flow: "deposit" | "withdrawal" | "mint",
    reference: string,
    accountId: string,
    asset: string,
    amount: bigint,
    reason: string,
  ): Promise<BalanceView> {
    checkId(reference, "reference");
    checkAccount(accountId);
    this.asset(asset);
    checkAmount(amount);
    return (await this.submit({
      kind: "flow",
      flow,
      reference,
      accountId,
      asset,
      amount,
      reason,
      operator: "",
    })) as BalanceView;
  }

  /**
   * Applies a chunk of executions.v1 events atomically with the consumer's progress: events at or
   * below the recorded (shard, sequence), or from an older epoch, are skipped, so replay changes nothing.
   */
  async applyExecutions(stream: string, events: ExecutionEvent[]): Promise<ExecutionsResult> {
    return (await this.submit({ kind: "executions", stream, events })) as ExecutionsResult;
  }

  progress(stream: string, shard: number): ProgressState | undefined {
    return this.cache.lookupProgress(`${stream}#${shard}`);
  }

  private submit(cmd: Command): Promise<CommandResult> {
    if (this.closed) return Promise.reject(new WalletError("FAILED_PRECONDITION", "ledger is closed"));
    return new Promise((resolve, reject) => {
      this.queue.push({ cmd, resolve, reject });
      this.wake();
    });
  }

  /**
   * Runs `task` alone in the writer's loop: once every batch in flight has retired, before the next one
   * is evaluated. A fee change made this way is in force for exactly the events evaluated after it, and
   * its checks (against the newest event settled) see everything evaluated before it. The loop waits for
   * the task, so a task must never wait for a submitted command (it would wait forever).
   */
  private runExclusive<T>(task: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new WalletError("FAILED_PRECONDITION", "ledger is closed"));
    return new Promise<T>((resolve, reject) => {
      this.exclusive.push({ run: task, resolve: resolve as (v: unknown) => void, reject });
      this.wake();
    });
  }

  private wake(): void {
    if (!this.running) {
      this.running = true;
      void this.drain();
    }
  }

  /** Waits for queued commands to finish and refuses new ones. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.running || this.writersOut > 0) await new Promise((r) => setTimeout(r, 5));
    for (const w of this.writers.splice(0)) w.release();
    if (this.lockClient) {
      await this.lockClient.query("select pg_advisory_unlock($1)", [WRITER_LOCK]).catch(() => {});
      this.lockClient.release();
      this.lockClient = undefined;
    }
  }

  /** The newest layer: the last in-flight batch, or the committed cache. */
  private tip(): Layer {
    return this.inflight[this.inflight.length - 1]?.layer ?? this.cache;
  }

  /** Highest entry id below which every entry is committed (or abandoned): ledger.v1 publishes up to here. */
  stableEntryId(): bigint {
    const first = this.inflight[0];
    return (first ? first.firstEntryId : this.cache.nextEntryId) - 1n;
  }

  /**
   * The single writer's loop. Up to `pipeline` batches are in flight: batch N+1 is evaluated on top
   * of batch N's (not yet committed) layer and, if it shares no key with N, written concurrently on
   * another connection (PostgreSQL commits both with one WAL flush when they coincide); if it shares
   * a key it waits for N's commit. Batches retire — cache update, replies — strictly in order.
   */
  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0 || this.inflight.length > 0 || this.exclusive.length > 0) {
        if (this.exclusive.length > 0 && this.inflight.length === 0) {
          const task = this.exclusive.shift()!;
          await task.run().then(task.resolve, task.reject);
          continue;
        }
        if (this.queue.length > 0 && this.inflight.length < this.pipeline && this.exclusive.length === 0) {
          const batch = this.queue.splice(0, this.maxBatch);
          await this.launch(batch);
          continue;
        }
        const head = this.inflight[0]!;
        const ok = await head.done;
        if (ok) {
          this.inflight.shift();
          this.retire(head);
          continue;
        }
        // A batch failed: let the others settle, keep what committed, retry the rest one by one.
        const settled = await Promise.all(this.inflight.map((f) => f.done));
        const failed: Pending[] = [];
        this.inflight.forEach((f, i) => {
          if (settled[i]) this.retire(f);
          else failed.push(...f.batch);
        });
        const error = head.error;
        this.stats.failedBatches++;
        this.stats.lastError = String((error as Error)?.message ?? error);
        this.inflight = [];
        await this.reload().catch(() => {});
        for (const p of failed) await this.runAlone(p, failed.length === 1 ? error : undefined);
      }
    } finally {
      this.running = false;
    }
  }

  /** Prefetches, evaluates and starts writing one batch (does not wait for the commit). */
  private async launch(batch: Pending[], strict = false): Promise<void> {
    const started = performance.now();
    const parent = this.tip();
    const layer = new Layer(parent, parent.nextEntryId);
    const flight: Inflight = {
      batch,
      layer,
      firstEntryId: parent.nextEntryId,
      outcomes: [],
      keys: layer.reads,
      started,
      done: Promise.resolve(false),
      error: undefined,
    };
    let write: Promise<void>;
    try {
      await this.prefetch(
        batch.map((p) => p.cmd),
        layer,
        strict || this.options.optimisticReservations === false,
      );
      for (const p of batch) {
        if (IN_PLACE_KINDS.has(p.cmd.kind)) {
          try {
            flight.outcomes.push({ ok: true, value: evaluate(p.cmd, layer, this.ref) });
          } catch (error) {
            if (!(error instanceof WalletError)) throw error;
            flight.outcomes.push({ ok: false, value: error });
          }
          continue;
        }
        const unit = new Layer(layer, layer.nextEntryId);
        try {
          const value = evaluate(p.cmd, unit, this.ref);
          unit.mergeInto(layer);
          flight.outcomes.push({ ok: true, value });
        } catch (error) {
          for (const r of unit.reads) layer.reads.add(r);
          if (!(error instanceof WalletError)) throw error;
          flight.outcomes.push({ ok: false, value: error });
        }
      }
      const statement = this.buildWrite(layer);
      const deps = this.inflight.filter((f) => intersects(f.keys, layer.reads));
      write = (async () => {
        const results = await Promise.all(deps.map((d) => d.done));
        if (results.some((r) => !r)) throw new Error("an earlier batch this one depends on failed");
        if (statement) await this.write(statement);
      })();
    } catch (error) {
      write = Promise.reject(error);
    }
    flight.done = write.then(
      () => true,
      (error: unknown) => {
        flight.error = error;
        return false;
      },
    );
    this.inflight.push(flight);
  }

  /**
   * Runs a batch statement on a writer connection. Writers are session-configured so that the cached
   * generic plan of a prepared batch statement only ever uses the primary keys (every batch statement
   * touches a handful of rows by key; a plan made while the tables were small would otherwise keep
   * seq-scanning them as they grow). A writer whose statement failed is discarded (its session may be broken).
   */
  private async write(statement: pg.QueryConfig): Promise<void> {
    let client = this.writers.pop();
    this.writersOut++;
    try {
      if (!client) {
        client = await this.pool.connect();
        client.on("error", () => {}); // surfaced by the failing query; the client is then discarded
        await client.query(
          "set plan_cache_mode = force_generic_plan; set enable_seqscan = off; set enable_hashjoin = off; set enable_mergejoin = off",
        );
      }
      await client.query(statement);
      this.writers.push(client);
      client = undefined;
    } finally {
      this.writersOut--;
      client?.release(true);
    }
  }

  private retire(f: Inflight): void {
    this.stats.batches++;
    this.commitToCache(f.layer);
    this.options.onBatch?.(f.batch.length, performance.now() - f.started);
    f.batch.forEach((p, i) => {
      const o = f.outcomes[i]!;
      if (o.ok) p.resolve(o.value as CommandResult);
      else p.reject(o.value);
    });
  }

  /** Runs one command on its own (after a batch failure), against freshly loaded state. */
  private async runAlone(p: Pending, knownError: unknown): Promise<void> {
    await this.launch([p], true);
    const f = this.inflight.pop()!;
    if (await f.done) {
      this.retire(f);
      return;
    }
    await this.reload().catch(() => {});
    p.reject(knownError ?? f.error);
  }

  private commitToCache(layer: Layer): void {
    const cache = this.cache;
    for (const [k, v] of layer.balances) cache.balances.set(k, { ...v });
    for (const [k, v] of layer.holds) if (v) cache.holds.set(k, { ...v, stored: true }); // nulls here are unverified
    for (const [k, v] of layer.progress) cache.progress.set(k, v);
    for (const [k, v] of layer.markets) cache.markets.set(k, v);
    cache.nextEntryId = layer.nextEntryId;
    // Keep the cache bounded: drained holds are only needed again for idempotent replays (reloaded on
    // demand). The next prune waits until the cache has doubled past what the last one kept, so the
    // scan stays amortised O(1) per hold even when most holds are still open (it once ran on every
    // batch past 500k open holds).
    if (cache.holds.size > this.nextHoldPruneAt) {
      for (const [k, v] of cache.holds) if (v === null || v.remaining === 0n) cache.holds.delete(k);
      this.nextHoldPruneAt = Math.max(HOLD_CACHE_PRUNE_AT, 2 * cache.holds.size);
    }
    if (cache.balances.size > 1_000_000) cache.balances.clear();
  }

  /**
   * Loads into the cache every hold and balance the batch may touch, and which idempotency sources exist.
   * Without `strict`, the order ids of new reservations are assumed not to exist yet (no lookup): the
   * batch statement inserts their holds with ON CONFLICT DO NOTHING and fails if any existed (an
   * idempotent replay after a restart), and the commands are then retried one by one in strict mode.
   */
  private async prefetch(cmds: Command[], layer: Layer, strict: boolean): Promise<void> {
    const orderIds = new Set<string>();
    const sources = new Set<string>();
    const pendingMarkets = new Map<string, MarketConfig>();
    for (const c of cmds) {
      if (c.kind === "reserve" && !strict) {
        if (layer.lookupHold(c.orderId) === undefined) layer.holds.set(c.orderId, null);
      } else if (c.kind === "reserve" || c.kind === "release") orderIds.add(c.orderId);
      else if (c.kind === "transfer") sources.add(`transfer:${c.transferId}`);
      else if (c.kind === "flow") {
        sources.add(`${c.flow}:${c.reference}`);
        if (c.holdOrderId !== undefined) orderIds.add(c.holdOrderId);
      } else if (c.kind === "executions") {
        for (const ev of c.events) {
          for (const id of executionOrderIds(ev)) orderIds.add(id);
          if (ev.event?.$case === "trade") sources.add(`trade:${ev.symbol}:${ev.event.value.tradeId}`);
        }
      }
    }
    const missingHolds = [...orderIds].filter((id) => layer.lookupHold(id) === undefined);
    const [holdRows, sourceRows] = await Promise.all([
      missingHolds.length > 0
        ? this.pool.query({
            text: "select order_id, account_id, asset, amount, remaining, releases from holds where order_id = any($1::text[])",
            values: [missingHolds],
          })
        : null,
      sources.size > 0
        ? this.pool.query({
            text: "select source from journal_entries where source = any($1::text[]) and kind not in ('reserve','release')",
            values: [[...sources]],
          })
        : null,
    ]);
    for (const id of missingHolds) this.cache.holds.set(id, null);
    for (const r of holdRows?.rows ?? []) {
      const hold: HoldState = {
        orderId: r.order_id,
        accountId: r.account_id,
        asset: r.asset,
        amount: BigInt(r.amount),
        remaining: BigInt(r.remaining),
        releases: r.releases,
        stored: true,
      };
      this.cache.holds.set(hold.orderId, hold);
    }
    for (const r of sourceRows?.rows ?? []) layer.sources.add(r.source);

    const keys = new Set<string>();
    const want = (accountId: string, asset: string) => keys.add(balanceKey(accountId, asset));
    const fromHold = (orderId: string) => {
      const h = layer.lookupHold(orderId);
      if (h) want(h.accountId, h.asset);
    };
    for (const c of cmds) {
      switch (c.kind) {
        case "reserve":
          want(c.accountId, c.asset);
          fromHold(c.orderId);
          break;
        case "release":
          fromHold(c.orderId);
          break;
        case "transfer":
          want(c.from, c.asset);
          want(c.to, c.asset);
          break;
        case "flow":
          want(c.accountId, c.asset);
          break;
        case "executions":
          for (const ev of c.events) {
            for (const id of executionOrderIds(ev)) fromHold(id);
            const e = ev.event;
            if (e?.$case === "marketChanged" && e.value.spec) {
              const s = e.value.spec;
              pendingMarkets.set(s.symbol, {
                symbol: s.symbol,
                baseAsset: s.baseAsset,
                quoteAsset: s.quoteAsset,
                priceScale: s.priceScale,
                quantityScale: s.quantityScale,
                makerFeeBps: 0,
                takerFeeBps: 0,
              });
            }
            if (e?.$case === "trade") {
              const m = pendingMarkets.get(ev.symbol) ?? layer.lookupMarket(ev.symbol);
              if (!m) continue; // evaluation reports the unknown market
              for (const account of tradeParties(ev)) {
                want(account, m.baseAsset);
                want(account, m.quoteAsset);
              }
            }
          }
          break;
        case "market":
          break;
      }
    }
    const missing = [...keys].filter((k) => layer.lookupBalance(k) === undefined);
    if (missing.length === 0) return;
    const accounts = missing.map((k) => k.split("\u0000")[0]!);
    const assets = missing.map((k) => k.split("\u0000")[1]!);
    const rows = await this.pool.query({
      text: `select b.account_id, b.asset, b.free, b.locked from balances b
             join unnest($1::text[], $2::text[]) as k(a, s) on b.account_id = k.a and b.asset = k.s`,
      values: [accounts, assets],
    });
    for (const k of missing) this.cache.balances.set(k, { free: 0n, locked: 0n, exists: false });
    for (const r of rows.rows) {
      this.cache.balances.set(balanceKey(r.account_id, r.asset), {
        free: BigInt(r.free),
        locked: BigInt(r.locked),
        exists: true,
      });
    }
  }

  /**
   * The batch as one statement (one implicit transaction, one fsync), or null when it changes nothing.
   * Deltas are taken against the layer's parent (the state the batch was evaluated on).
   */
  private buildWrite(layer: Layer): pg.QueryConfig | null {
    const base = layer.parent!;
    const ins: [string[], string[], string[], string[]] = [[], [], [], []];
    const upd: [string[], string[], string[], string[], string[], string[]] = [[], [], [], [], [], []];
    for (const [key, b] of layer.balances) {
      const orig = base.lookupBalance(key)!;
      if (orig.free === b.free && orig.locked === b.locked) continue;
      b.exists = true; // after this batch the row exists (later batches that touch it wait for this one)
      const [account, asset] = key.split("\u0000") as [string, string];
      if (orig.exists) {
        upd[0].push(account);
        upd[1].push(asset);
        upd[2].push((b.free - orig.free).toString());
        upd[3].push((b.locked - orig.locked).toString());
        upd[4].push(b.free.toString());
        upd[5].push(b.locked.toString());
      } else {
        ins[0].push(account);
        ins[1].push(asset);
        ins[2].push(b.free.toString());
        ins[3].push(b.locked.toString());
      }
    }
    const holds: [string[], string[], string[], string[], string[], number[]] = [[], [], [], [], [], []];
    const fresh: boolean[] = [];
    for (const h of layer.holds.values()) {
      if (!h) continue;
      holds[0].push(h.orderId);
      holds[1].push(h.accountId);
      holds[2].push(h.asset);
      holds[3].push(h.amount.toString());
      holds[4].push(h.remaining.toString());
      holds[5].push(h.releases);
      fresh.push(!h.stored);
      h.stored = true; // later pipelined batches that touch it wait for this one
    }
    const progress: [string[], number[], string[], string[], string[]] = [[], [], [], [], []];
    for (const [key, p] of layer.progress) {
      const i = key.lastIndexOf("#");
      progress[0].push(key.slice(0, i));
      progress[1].push(Number(key.slice(i + 1)));
      progress[2].push(p.epoch.toString());
      progress[3].push(p.sequence.toString());
      progress[4].push(p.timeMs.toString());
    }
    const markets = [...layer.markets.values()];
    const fees = [...layer.fees.entries()].map(
      ([k, v]) => [...k.split("|"), v.toString()] as [string, string, string],
    );
    // Legs per entry as PostgreSQL array literals (account ids and assets never need quoting: see checkAccount).
    const legs: [string[], string[], string[], string[]] = [[], [], [], []];
    const byEntry = new Map<bigint, PostingRow[]>();
    for (const p of layer.postings) {
      const list = byEntry.get(p.entryId);
      if (list) list.push(p);
      else byEntry.set(p.entryId, [p]);
    }
    for (const e of layer.entries) {
      const ps = byEntry.get(e.entryId) ?? [];
      legs[0].push(`{${ps.map((p) => p.accountId).join(",")}}`);
      legs[1].push(`{${ps.map((p) => p.asset).join(",")}}`);
      legs[2].push(`{${ps.map((p) => p.bucket).join(",")}}`);
      legs[3].push(`{${ps.map((p) => p.amount.toString()).join(",")}}`);
    }
    const freshHolds = holds.map((col) => col.filter((_, i) => fresh[i]));
    const storedHolds = holds.map((col) => col.filter((_, i) => !fresh[i]));
    const sql = new BatchSql();
    if (layer.entries.length > 0) {
      sql.cte(
        "e",
        (
          p,
        ) => `insert into journal_entries (entry_id, source, kind, time_ms, accounts, assets, buckets, amounts)
        select i, s, k, t, a::text[], x::text[], b::text[], v::bigint[]
        from unnest(${p(
          layer.entries.map((e) => e.entryId.toString()),
          "bigint[]",
        )}, ${p(
          layer.entries.map((e) => e.source),
          "text[]",
        )},
                    ${p(
                      layer.entries.map((e) => e.kind),
                      "text[]",
                    )}, ${p(
                      layer.entries.map((e) => e.timeMs.toString()),
                      "bigint[]",
                    )},
                    ${p(legs[0], "text[]")}, ${p(legs[1], "text[]")}, ${p(legs[2], "text[]")}, ${p(legs[3], "text[]")})
          as u(i, s, k, t, a, x, b, v)`,
      );
    }
    if (ins[0].length > 0) {
      sql.cte(
        "bi",
        (p) => `insert into balances (account_id, asset, free, locked)
        select * from unnest(${p(ins[0], "text[]")}, ${p(ins[1], "text[]")}, ${p(ins[2], "bigint[]")}, ${p(ins[3], "bigint[]")})`,
      );
    }
    if (upd[0].length > 0) {
      // Deltas keep the update correct whatever the row holds; the returned flag checks it held what the cache said.
      const ids = sql.param(upd[0], "text[]");
      sql.cte(
        "bu",
        (p) => `update balances b set free = b.free + d.df, locked = b.locked + d.dl
        from unnest(${ids}, ${p(upd[1], "text[]")}, ${p(upd[2], "bigint[]")}, ${p(upd[3], "bigint[]")},
                    ${p(upd[4], "bigint[]")}, ${p(upd[5], "bigint[]")}) as d(a, s, df, dl, nf, nl)
        where b.account_id = d.a and b.asset = d.s
        returning (b.free = d.nf and b.locked = d.nl) as ok`,
      );
      sql.check(`(select count(*) from bu where ok) <> cardinality(${ids})`);
    }
    if (freshHolds[0]!.length > 0) {
      // New holds: an order id that already exists (an idempotent retry after a restart) violates the
      // primary key, which fails the batch; its commands are then re-run one by one with lookups.
      sql.cte(
        "h",
        (p) => `insert into holds (order_id, account_id, asset, amount, remaining, releases)
        select * from unnest(${p(freshHolds[0]!, "text[]")}, ${p(freshHolds[1]!, "text[]")}, ${p(freshHolds[2]!, "text[]")},
                             ${p(freshHolds[3]!, "bigint[]")}, ${p(freshHolds[4]!, "bigint[]")}, ${p(freshHolds[5]!, "int[]")})`,
      );
    }
    if (storedHolds[0]!.length > 0) {
      const ids = sql.param(storedHolds[0]!, "text[]");
      sql.cte(
        "hu",
        (p) => `update holds t set amount = d.amount, remaining = d.remaining, releases = d.releases
        from unnest(${ids}, ${p(storedHolds[1]!, "text[]")}, ${p(storedHolds[3]!, "bigint[]")},
                    ${p(storedHolds[4]!, "bigint[]")}, ${p(storedHolds[5]!, "int[]")}) as d(id, acct, amount, remaining, releases)
        where t.order_id = d.id and t.account_id = d.acct
        returning 1`,
      );
      sql.check(`(select count(*) from hu) <> cardinality(${ids})`);
    }
    if (layer.flows.length > 0) {
      const f = layer.flows;
      sql.cte(
        "f",
        (
          p,
        ) => `insert into external_flows (entry_id, kind, account_id, asset, amount, reference, reason, operator)
        select * from unnest(${p(
          f.map((x) => x.entryId.toString()),
          "bigint[]",
        )}, ${p(
          f.map((x) => x.kind),
          "text[]",
        )}, ${p(
          f.map((x) => x.accountId),
          "text[]",
        )},
                             ${p(
                               f.map((x) => x.asset),
                               "text[]",
                             )}, ${p(
                               f.map((x) => x.amount.toString()),
                               "bigint[]",
                             )},
                             ${p(
                               f.map((x) => x.reference),
                               "text[]",
                             )}, ${p(
                               f.map((x) => x.reason),
                               "text[]",
                             )},
                             ${p(
                               f.map((x) => x.operator),
                               "text[]",
                             )})`,
      );
    }
    if (fees.length > 0) {
      sql.cte(
        "fd",
        (p) => `insert into fee_daily (day, asset, amount)
        select * from unnest(${p(
          fees.map((f) => f[0]),
          "date[]",
        )}, ${p(
          fees.map((f) => f[1]),
          "text[]",
        )}, ${p(
          fees.map((f) => f[2]),
          "bigint[]",
        )})
        on conflict (day, asset) do update set amount = fee_daily.amount + excluded.amount`,
      );
    }
    if (progress[0].length > 0) {
      sql.cte(
        "cp",
        (p) => `insert into consumer_progress (stream, shard, epoch, sequence, time_ms)
        select * from unnest(${p(progress[0], "text[]")}, ${p(progress[1], "int[]")}, ${p(progress[2], "bigint[]")}, ${p(progress[3], "bigint[]")}, ${p(progress[4], "bigint[]")})
        on conflict (stream, shard) do update set epoch = excluded.epoch, sequence = excluded.sequence, time_ms = excluded.time_ms`,
      );
    }
    if (layer.exceptions.length > 0) {
      const x = layer.exceptions;
      sql.cte(
        "x",
        (p) => `insert into settlement_exceptions (source, reason, detail)
        select * from unnest(${p(
          x.map((e) => e.source),
          "text[]",
        )}, ${p(
          x.map((e) => e.reason),
          "text[]",
        )}, ${p(
          x.map((e) => e.detail),
          "text[]",
        )})
        on conflict (source) do nothing`,
      );
    }
    if (markets.length > 0) {
      const m = markets;
      sql.cte(
        "m",
        (
          p,
        ) => `insert into markets (symbol, base_asset, quote_asset, price_scale, quantity_scale, maker_fee_bps, taker_fee_bps)
        select * from unnest(${p(
          m.map((x) => x.symbol),
          "text[]",
        )}, ${p(
          m.map((x) => x.baseAsset),
          "text[]",
        )}, ${p(
          m.map((x) => x.quoteAsset),
          "text[]",
        )},
                             ${p(
                               m.map((x) => x.priceScale),
                               "int[]",
                             )}, ${p(
                               m.map((x) => x.quantityScale),
                               "int[]",
                             )},
                             ${p(
                               m.map((x) => x.makerFeeBps),
                               "int[]",
                             )}, ${p(
                               m.map((x) => x.takerFeeBps),
                               "int[]",
                             )})
        on conflict (symbol) do update set base_asset = excluded.base_asset, quote_asset = excluded.quote_asset,
          price_scale = excluded.price_scale, quantity_scale = excluded.quantity_scale,
          maker_fee_bps = excluded.maker_fee_bps, taker_fee_bps = excluded.taker_fee_bps`,
      );
    }
    return sql.statement(this.options.preparedStatements !== false);
  }

  // ---------------------------------------------------------------- queries (committed state)

  async balances(accountId: string): Promise<BalanceView[]> {
    checkAccount(accountId);
    const r = await this.pool.query(
      "select asset, free, locked from balances where account_id = $1 and (free > 0 or locked > 0) order by asset",
      [accountId],
    );
    return r.rows.map((x) => ({ asset: x.asset, free: BigInt(x.free), locked: BigInt(x.locked) }));
  }

  /** One balance of an account (zeros when it has none). */
  async balance(accountId: string, asset: string): Promise<BalanceView> {
    checkAccount(accountId);
    this.asset(asset);
    const r = await this.pool.query(
      "select free, locked from balances where account_id = $1 and asset = $2",
      [accountId, asset],
    );
    const x = r.rows[0];
    return { asset, free: BigInt(x?.free ?? 0), locked: BigInt(x?.locked ?? 0) };
  }

  /**
   * The maker/taker rates `accountId` pays at `atTimeMs` (default: now), for one market (`symbol`) or
   * every known market: the account's override for that market, else its override for every market
   * ('*'), else the market's rates — each as the fee schedule has it at that time — and every later
   * change already scheduled (`upcoming`). A trade at time t is charged the last of these in force at t.
   */
  feeRates(accountId: string, symbol = "", atTimeMs?: number): FeeRateView[] {
    checkAccount(accountId);
    if (atTimeMs !== undefined) checkEffectiveTime(atTimeMs, "at_time_ms");
    const at = atTimeMs ?? this.clock();
    let symbols: string[];
    if (symbol) {
      if (!this.market(symbol)) {
        throw new WalletError("NOT_FOUND", `unknown market ${JSON.stringify(symbol)}`, "symbol");
      }
      symbols = [symbol];
    } else {
      const all = new Set(this.cache.markets.keys());
      for (const f of this.inflight) for (const k of f.layer.markets.keys()) all.add(k);
      symbols = [...all].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    }
    return symbols.map((s) => ({
      symbol: s,
      ...this.fees.rates(accountId, s, at),
      upcoming: this.fees.changesAfter(accountId, s, at),
    }));
  }

  /** How long rates read now stay exact: no change not yet recorded takes effect before `stableUntilMs`. */
  feeChangeWindow(): FeeChangeWindow {
    const nowMs = this.clock();
    return { nowMs, noticeMs: this.feeChangeNoticeMs, stableUntilMs: this.earliestFeeChangeMs(nowMs) };
  }

  async hold(orderId: string): Promise<HoldState | undefined> {
    const r = await this.pool.query("select * from holds where order_id = $1", [orderId]);
    const x = r.rows[0];
    if (!x) return undefined;
    return {
      orderId: x.order_id,
      accountId: x.account_id,
      asset: x.asset,
      amount: BigInt(x.amount),
      remaining: BigInt(x.remaining),
      releases: x.releases,
    };
  }

  /** Fee account income per asset on one UTC day (YYYY-MM-DD). */
  async dailyFees(day: string): Promise<{ asset: string; amount: bigint }[]> {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(day) || Number.isNaN(Date.parse(`${day}T00:00:00Z`))) {
      throw invalid("day", `day must be YYYY-MM-DD, got ${JSON.stringify(day)}`);
    }
    const r = await this.pool.query(
      "select asset, amount from fee_daily where day = $1::date order by asset",
      [day],
    );
    return r.rows.map((x) => ({ asset: x.asset, amount: BigInt(x.amount) }));
  }

  async exceptions(): Promise<{ source: string; reason: string; detail: string }[]> {
    const r = await this.pool.query(
      "select source, reason, detail from settlement_exceptions order by source",
    );
    return r.rows;
  }

  /**
   * Conservation audit on one consistent snapshot: per asset, the sum of all balances must equal
   * deposits − withdrawals + minted (+ operator credits − debits), the journal's contra account must
   * agree, locked balances must equal open holds, every entry must balance, and replaying the
   * postings must give the balance table.
   */
  async audit(): Promise<AuditReport> {
    const client = await this.pool.connect();
    try {
      await client.query("begin isolation level repeatable read read only");
      const perAsset = await client.query(`
        select a.symbol as asset,
          coalesce((select sum(free + locked) from balances b where b.asset = a.symbol), 0) as sum_balances,
          coalesce((select sum(case when kind in ('deposit','mint','adjust_credit') then amount else -amount end)
                    from external_flows f where f.asset = a.symbol), 0) as expected,
          coalesce((select -sum(amount) from postings p where p.asset = a.symbol and p.account_id = '@external'), 0)
            as external_total,
          coalesce((select sum(locked) from balances b where b.asset = a.symbol), 0) as locked,
          coalesce((select sum(remaining) from holds h where h.asset = a.symbol), 0) as held
        from assets a order by a.symbol`);
      const unbalanced = await client.query(`
        select count(*)::int as n from (
          select entry_id, asset from postings group by entry_id, asset having sum(amount) <> 0) x`);
      const mismatches = await client.query(`
        select count(*)::int as n from (
          select account_id, asset,
                 coalesce(sum(amount) filter (where bucket = 'free'), 0) as free,
                 coalesce(sum(amount) filter (where bucket = 'locked'), 0) as locked
          from postings where account_id <> '@external' group by account_id, asset) p
        full join balances b using (account_id, asset)
        where coalesce(p.free, 0) <> coalesce(b.free, 0) or coalesce(p.locked, 0) <> coalesce(b.locked, 0)`);
      await client.query("commit");
      const assets = perAsset.rows.map((r) => {
        const a = {
          asset: r.asset as string,
          sumOfBalances: BigInt(r.sum_balances),
          expected: BigInt(r.expected),
          externalTotal: BigInt(r.external_total),
          locked: BigInt(r.locked),
          held: BigInt(r.held),
          balanced: false,
        };
        a.balanced = a.sumOfBalances === a.expected && a.externalTotal === a.expected && a.locked === a.held;
        return a;
      });
      const unbalancedEntries = unbalanced.rows[0].n as number;
      const journalMismatches = mismatches.rows[0].n as number;
      return {
        assets,
        unbalancedEntries,
        journalMismatches,
        ok: assets.every((a) => a.balanced) && unbalancedEntries === 0 && journalMismatches === 0,
      };
    } catch (error) {
      await client.query("rollback").catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }
}

/**
 * Builds a batch as ONE statement: a data-modifying CTE per kind of row the batch writes (only the
 * kinds present, so the statement stays small), all run in one implicit transaction; the final SELECT
 * raises — rolling everything back — unless every balance UPDATE landed on exactly the value the
 * in-memory cache computed and every hold was inserted (new) or updated (existing) as expected.
 * The text depends only on which kinds are present ("shape"), so each shape is one prepared statement.
 */
class BatchSql {
  private readonly ctes: string[] = [];
  private readonly checks: string[] = [];
  private shape = "";
  readonly values: unknown[] = [];

  param(value: unknown, type: string): string {
    this.values.push(value);
    return `$${this.values.length}::${type}`;
  }

  cte(name: string, body: (p: (value: unknown, type: string) => string) => string): void {
    this.shape += `_${name}`;
    this.ctes.push(`${name} as (${body((v, t) => this.param(v, t))})`);
  }

  check(condition: string): void {
    this.checks.push(condition);
  }

  statement(prepared: boolean): pg.QueryConfig | null {
    if (this.ctes.length === 0) return null;
    const verdict =
      this.checks.length === 0
        ? "0"
        : `case when ${this.checks.join(" or ")} then wallet_fail('cache diverged from the database (balances or holds)') else 0 end`;
    const text = `with ${this.ctes.join(",\n")}\nselect ${verdict} as checked`;
    return prepared
      ? { name: `wallet_batch${this.shape}`, text, values: this.values }
      : { text, values: this.values };
  }
}
