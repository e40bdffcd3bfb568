/**
 * The fee schedule: every trading-fee rate the wallet has charged or will charge, with the time it
 * takes effect. A trade is charged the rates in force at its own time (the engine event's header
 * time), never the rates of the moment it happens to be settled, so settling the same executions.v1
 * events again — after a restart, or into a fresh database that has the same schedule — books the
 * same fees.
 *
 * Three kinds of scope, most specific first:
 *   1. an account's override in one market   (accountId, symbol)
 *   2. an account's override in every market (accountId, "*")
 *   3. the market's own rates                ("", symbol)
 * A market with no entry at all (known only from a MarketChanged event) pays the default rates.
 * An override entry without rates ends the override: from then on the next scope applies again.
 *
 * The schedule is append-only; this class is its in-memory index (loaded at start, appended to by
 * the ledger's single writer), shaped so the settlement hot path does two or three map lookups and
 * a binary search over a scope's (short) list per side of a trade, without allocating.
 */

/** Rates of a market that has no entry in the schedule (a market known only from MarketChanged). */
export const DEFAULT_MAKER_FEE_BPS = 10;
export const DEFAULT_TAKER_FEE_BPS = 10;
/** Default of FEE_CHANGE_NOTICE_MS: the least time between recording a change and its taking effect. */
export const DEFAULT_FEE_CHANGE_NOTICE_MS = 10_000;
/** Symbol of an account's override that applies in every market. */
export const EVERY_MARKET = "*";
/** 9999-12-31T23:59:59.999Z: the latest effective time accepted (later ones are certainly typos). */
export const MAX_EFFECTIVE_MS = 253_402_300_799_999;

/** One entry of the fee schedule, as stored in `fee_schedule` (never updated, never deleted). */
export interface FeeScheduleEntry {
  /** Order of recording. */
  entryId: number;
  /** "" = the market's own rates; otherwise the account this override is for. */
  accountId: string;
  /** The market, or "*" (an account's override in every market). */
  symbol: string;
  /** From this time (ms since 1970, inclusive) until the scope's next entry. 0 = since the beginning. */
  effectiveFromMs: number;
  /** Both null: the account's override ends here (market entries always carry rates). */
  makerFeeBps: number | null;
  takerFeeBps: number | null;
  /** When the change was recorded (wallet clock), who made it and why. */
  recordedAtMs: number;
  actor: string;
  reason: string;
}

/** The rates an account pays in a market at some time, with every override applied. */
export interface ResolvedFeeRates {
  makerFeeBps: number;
  takerFeeBps: number;
  /** True when the account's own rates (its market or every-market override) replace the market's. */
  accountOverride: boolean;
}

/** From `effectiveFromMs` on, the account pays these rates in the market (until the next change). */
export interface FeeRateChange extends ResolvedFeeRates {
  effectiveFromMs: number;
}

/** The entry of a scope in force at `timeMs`: the last one with effectiveFromMs ≤ timeMs. */
function inForce(list: FeeScheduleEntry[] | undefined, timeMs: number): FeeScheduleEntry | undefined {
  if (list === undefined) return undefined;
  let lo = 0;
  let hi = list.length; // answer index is lo − 1 once lo = hi
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]!.effectiveFromMs <= timeMs) lo = mid + 1;
    else hi = mid;
  }
  return lo === 0 ? undefined : list[lo - 1];
}

/** Like inForce, but an entry that ends an override counts as no override. */
function overrideInForce(list: FeeScheduleEntry[] | undefined, timeMs: number): FeeScheduleEntry | undefined {
  const e = inForce(list, timeMs);
  return e !== undefined && e.makerFeeBps !== null ? e : undefined;
}

export class FeeSchedule {
  /** symbol → the market's own entries, by effective time. */
  private readonly markets = new Map<string, FeeScheduleEntry[]>();
  /** account → (symbol or "*") → its override entries, by effective time. */
  private readonly overrides = new Map<string, Map<string, FeeScheduleEntry[]>>();
  /** Indexes an entry (entries of one scope never share an effective time: see the unique key). */
  add(entry: FeeScheduleEntry): void {
    let scopes = this.markets;
    if (entry.accountId !== "") {
      const own = this.overrides.get(entry.accountId) ?? new Map<string, FeeScheduleEntry[]>();
      this.overrides.set(entry.accountId, own);
      scopes = own;
    }
    const list = scopes.get(entry.symbol) ?? [];
    scopes.set(entry.symbol, list);
    // Changes are mostly appended in time order: insert from the end.
    let i = list.length;
    while (i > 0 && list[i - 1]!.effectiveFromMs > entry.effectiveFromMs) i--;
    list.splice(i, 0, entry);
  }

  /** A scope's entries by effective time (accountId "" = the market's own rates). */
  entriesOf(accountId: string, symbol: string): readonly FeeScheduleEntry[] {
    const list = accountId === "" ? this.markets.get(symbol) : this.overrides.get(accountId)?.get(symbol);
    return list ?? [];
  }

  /** A scope's entry in force at `timeMs` (accountId "" = the market's own rates). */
  entryInForce(accountId: string, symbol: string, timeMs: number): FeeScheduleEntry | undefined {
    return inForce(
      accountId === "" ? this.markets.get(symbol) : this.overrides.get(accountId)?.get(symbol),
      timeMs,
    );
  }

  /** Every entry, in the order they were recorded. */
  all(): FeeScheduleEntry[] {
    const out: FeeScheduleEntry[] = [];
    for (const list of this.markets.values()) out.push(...list);
    for (const own of this.overrides.values()) for (const list of own.values()) out.push(...list);
    return out.sort((a, b) => a.entryId - b.entryId);
  }

  /** The bps `accountId` pays as maker or taker in `symbol` for a trade at `timeMs` (settlement). */
  bps(accountId: string, symbol: string, role: "maker" | "taker", timeMs: number): number {
    const own = this.overrides.get(accountId);
    if (own !== undefined) {
      const o = overrideInForce(own.get(symbol), timeMs) ?? overrideInForce(own.get(EVERY_MARKET), timeMs);
      if (o !== undefined) return (role === "maker" ? o.makerFeeBps : o.takerFeeBps)!;
    }
    const m = inForce(this.markets.get(symbol), timeMs);
    if (m !== undefined) return (role === "maker" ? m.makerFeeBps : m.takerFeeBps)!;
    return role === "maker" ? DEFAULT_MAKER_FEE_BPS : DEFAULT_TAKER_FEE_BPS;
  }

  /** The rates `accountId` pays in `symbol` at `timeMs`, overrides applied. */
  rates(accountId: string, symbol: string, timeMs: number): ResolvedFeeRates {
    const own = this.overrides.get(accountId);
    const o =
      own === undefined
        ? undefined
        : (overrideInForce(own.get(symbol), timeMs) ?? overrideInForce(own.get(EVERY_MARKET), timeMs));
    if (o !== undefined) {
      return { makerFeeBps: o.makerFeeBps!, takerFeeBps: o.takerFeeBps!, accountOverride: true };
    }
    const m = inForce(this.markets.get(symbol), timeMs);
    return {
      makerFeeBps: m ? m.makerFeeBps! : DEFAULT_MAKER_FEE_BPS,
      takerFeeBps: m ? m.takerFeeBps! : DEFAULT_TAKER_FEE_BPS,
      accountOverride: false,
    };
  }

  /**
   * Every later change of what `accountId` pays in `symbol`, after `timeMs` (exclusive), in time order:
   * with `rates(accountId, symbol, timeMs)` this is the whole fee function from `timeMs` on. Entries that
   * change nothing for this account (e.g. a market change hidden by its override) are left out.
   */
  changesAfter(accountId: string, symbol: string, timeMs: number): FeeRateChange[] {
    const own = this.overrides.get(accountId);
    const times = new Set<number>();
    for (const list of [this.markets.get(symbol), own?.get(symbol), own?.get(EVERY_MARKET)]) {
      for (const e of list ?? []) if (e.effectiveFromMs > timeMs) times.add(e.effectiveFromMs);
    }
    const changes: FeeRateChange[] = [];
    let previous = this.rates(accountId, symbol, timeMs);
    for (const t of [...times].sort((a, b) => a - b)) {
      const next = this.rates(accountId, symbol, t);
      if (
        next.makerFeeBps === previous.makerFeeBps &&
        next.takerFeeBps === previous.takerFeeBps &&
        next.accountOverride === previous.accountOverride
      )
        continue;
      changes.push({ effectiveFromMs: t, ...next });
      previous = next;
    }
    return changes;
  }
}
