import { WalletError } from "./errors";

/** Account that collects trading fees (and rounding dust). */
export const FEE_ACCOUNT = "sys:fees";
/**
 * The contra account of every external flow (deposit, withdrawal, mint, operator adjustment).
 * It appears in postings so every entry balances to zero, but it has no balance row: its running
 * total is −(deposits − withdrawals + minted + credits − debits).
 */
export const EXTERNAL_ACCOUNT = "@external";
/** System accounts (fees, rewards, buy-back, …) start with this prefix. */
export const SYSTEM_PREFIX = "sys:";

export type Bucket = "free" | "locked";

export interface BalanceState {
  free: bigint;
  locked: bigint;
  /** Whether the row exists in the database (decides INSERT vs UPDATE). */
  exists: boolean;
}

export interface HoldState {
  orderId: string;
  accountId: string;
  asset: string;
  amount: bigint;
  remaining: bigint;
  releases: number;
  /** The row exists in the database (UPDATE); otherwise it is new (INSERT, verified not to exist). */
  stored?: boolean;
}

export interface AssetInfo {
  symbol: string;
  decimals: number;
  contractAddress: string;
}

export interface MarketConfig {
  symbol: string;
  baseAsset: string;
  quoteAsset: string;
  priceScale: number;
  quantityScale: number;
  /**
   * Configured rates. Settlement never reads these: it charges the fee schedule's rates at the trade's
   * time (fees.ts); `Ledger.configureMarket` turns them into schedule entries.
   */
  makerFeeBps: number;
  takerFeeBps: number;
}

export interface ProgressState {
  epoch: bigint;
  sequence: bigint;
  /** Newest event header time settled on this shard (ms). */
  timeMs: bigint;
}

export interface EntryRow {
  entryId: bigint;
  source: string;
  kind: string;
  timeMs: bigint;
}

export interface PostingRow {
  entryId: bigint;
  accountId: string;
  asset: string;
  bucket: Bucket;
  amount: bigint;
}

export interface FlowRow {
  entryId: bigint;
  kind: "deposit" | "withdrawal" | "mint" | "adjust_credit" | "adjust_debit";
  accountId: string;
  asset: string;
  amount: bigint;
  reference: string;
  reason: string;
  operator: string;
}

export interface ExceptionRow {
  source: string;
  reason: string;
  detail: string;
}

export const balanceKey = (accountId: string, asset: string): string => `${accountId}\u0000${asset}`;

/**
 * A copy-on-write layer over a parent layer (the committed cache at the bottom). A command runs in
 * its own layer; only when it succeeds is the layer merged into the batch layer, which is merged
 * into the committed cache only after the database commit.
 */
export class Layer {
  readonly balances = new Map<string, BalanceState>();
  readonly holds = new Map<string, HoldState | null>();
  readonly progress = new Map<string, ProgressState>();
  readonly markets = new Map<string, MarketConfig>();
  readonly entries: EntryRow[] = [];
  readonly postings: PostingRow[] = [];
  readonly flows: FlowRow[] = [];
  readonly exceptions: ExceptionRow[] = [];
  readonly fees = new Map<string, bigint>(); // "day|asset" → amount
  readonly sources = new Set<string>();
  /** Every key this layer looked at ("b:", "h:", "s:", "p:", "m:"), for dependency tracking between pipelined batches. */
  readonly reads = new Set<string>();
  nextEntryId: bigint;

  constructor(
    readonly parent: Layer | null,
    nextEntryId: bigint,
  ) {
    this.nextEntryId = nextEntryId;
  }

  getBalance(accountId: string, asset: string): BalanceState {
    const key = balanceKey(accountId, asset);
    this.reads.add(`b:${key}`);
    let own = this.balances.get(key);
    if (own) return own;
    const up = this.parent?.lookupBalance(key);
    if (!up) throw new Error(`balance ${accountId}/${asset} was not prefetched`);
    own = { ...up };
    this.balances.set(key, own);
    return own;
  }

  lookupBalance(key: string): BalanceState | undefined {
    return this.balances.get(key) ?? this.parent?.lookupBalance(key);
  }

  /** The hold of an order, as a mutable copy in this layer; undefined when there is none. */
  getHold(orderId: string): HoldState | undefined {
    this.reads.add(`h:${orderId}`);
    if (this.holds.has(orderId)) return this.holds.get(orderId) ?? undefined;
    const up = this.parent?.lookupHold(orderId);
    if (up === undefined) throw new Error(`hold ${orderId} was not prefetched`);
    if (up === null) return undefined;
    const own = { ...up };
    this.holds.set(orderId, own);
    return own;
  }

  lookupHold(orderId: string): HoldState | null | undefined {
    if (this.holds.has(orderId)) return this.holds.get(orderId);
    return this.parent?.lookupHold(orderId);
  }

  setHold(hold: HoldState): void {
    this.holds.set(hold.orderId, hold);
  }

  getProgress(key: string): ProgressState | undefined {
    this.reads.add(`p:${key}`);
    return this.lookupProgress(key);
  }

  lookupProgress(key: string): ProgressState | undefined {
    return this.progress.get(key) ?? this.parent?.lookupProgress(key);
  }

  getMarket(symbol: string): MarketConfig | undefined {
    this.reads.add(`m:${symbol}`);
    return this.lookupMarket(symbol);
  }

  lookupMarket(symbol: string): MarketConfig | undefined {
    return this.markets.get(symbol) ?? this.parent?.lookupMarket(symbol);
  }

  hasSource(source: string): boolean {
    this.reads.add(`s:${source}`);
    return this.lookupSource(source);
  }

  lookupSource(source: string): boolean {
    return this.sources.has(source) || (this.parent?.lookupSource(source) ?? false);
  }

  /** Opens a journal entry; throws if its source was already used (the caller treats it as a replay). */
  entry(source: string, kind: string, timeMs: bigint): bigint {
    if (this.hasSource(source)) throw new WalletError("ALREADY_EXISTS", `entry ${source} already exists`);
    this.sources.add(source);
    const entryId = this.nextEntryId++;
    this.entries.push({ entryId, source, kind, timeMs });
    return entryId;
  }

  /** Adds a posting and moves the balance; refuses to take a bucket below zero. */
  post(entryId: bigint, accountId: string, asset: string, bucket: Bucket, amount: bigint): void {
    if (amount === 0n) return;
    this.postings.push({ entryId, accountId, asset, bucket, amount });
    if (accountId === EXTERNAL_ACCOUNT) return;
    const b = this.getBalance(accountId, asset);
    const next = b[bucket] + amount;
    if (next < 0n) {
      throw new WalletError(
        "INSUFFICIENT_BALANCE",
        `insufficient ${bucket} ${asset} balance in account ${accountId}: has ${b[bucket]}, needs ${-amount}`,
      );
    }
    b[bucket] = next;
  }

  addFee(day: string, asset: string, amount: bigint): void {
    if (amount === 0n) return;
    this.reads.add(`f:${day}|${asset}`);
    const key = `${day}|${asset}`;
    this.fees.set(key, (this.fees.get(key) ?? 0n) + amount);
  }

  /** Moves everything this layer did into its parent. */
  mergeInto(parent: Layer): void {
    for (const [k, v] of this.balances) parent.balances.set(k, v);
    for (const [k, v] of this.holds) parent.holds.set(k, v);
    for (const [k, v] of this.progress) parent.progress.set(k, v);
    for (const [k, v] of this.markets) parent.markets.set(k, v);
    for (const s of this.sources) parent.sources.add(s);
    for (const r of this.reads) parent.reads.add(r);
    for (const [k, v] of this.fees) parent.fees.set(k, (parent.fees.get(k) ?? 0n) + v);
    parent.entries.push(...this.entries);
    parent.postings.push(...this.postings);
    parent.flows.push(...this.flows);
    parent.exceptions.push(...this.exceptions);
    parent.nextEntryId = this.nextEntryId;
  }
}
