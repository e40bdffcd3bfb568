/**
 * A shard: many markets (books) behind one single-threaded writer. Routes commands by symbol,
 * runs market admin commands and cross-market mass cancels, and snapshots/restores everything.
 * Pure: no I/O, no clock. The Kafka service (a later phase) maps OrderCommand → these calls and
 * the sink calls → ExecutionEvent / MarketDataEvent (adding shard, sequence and epoch).
 */
import {
  type MarketFilters,
  type MarketSpec,
  type MarketStatus,
  validateFilters,
  validateMarketSpec,
} from "@excraft/domain";
import { PlainView } from "./book/common.ts";
import { BookArena, FastBook } from "./book/fast-book.ts";
import { ReferenceBook } from "./book/reference/reference-book.ts";
import {
  type BookSink,
  type BookSnapshot,
  type CancelCommand,
  type OrderBook,
  type PlaceCommand,
  RejectReason,
  type ReplaceCommand,
} from "./book/types.ts";

/** Engine output: the book events plus market admin outcomes. */
export interface EngineSink extends BookSink {
  marketChanged(market: number, spec: Readonly<MarketSpec>): void;
  adminRejected(symbol: string, code: string, message: string): void;
}

/** Interns account-id strings to small integers (the books' account keys). Part of the snapshot. */
export class AccountRegistry {
  private readonly ids = new Map<string, number>();
  private readonly names: string[] = [];
  intern(account: string): number {
    let n = this.ids.get(account);
    if (n === undefined) {
      n = this.names.length;
      this.names.push(account);
      this.ids.set(account, n);
    }
    return n;
  }
  /** The number for an account, or −1 when it never placed an order (it has nothing to cancel). */
  lookup(account: string): number {
    return this.ids.get(account) ?? -1;
  }
  name(n: number): string {
    return this.names[n]!;
  }
  list(): string[] {
    return [...this.names];
  }
  static from(names: string[]): AccountRegistry {
    const r = new AccountRegistry();
    for (const n of names) r.intern(n);
    return r;
  }
}

export type BookKind = "fast" | "reference";

export interface EngineSnapshot {
  version: 1;
  accounts: string[];
  books: BookSnapshot[];
}

export class Engine {
  readonly accounts: AccountRegistry;
  private readonly books: OrderBook[] = [];
  private readonly bySymbol = new Map<string, OrderBook>();
  private readonly rej = new PlainView();
  /** One memory arena for every fast book of the shard (see BookArena). */
  private readonly arena = new BookArena(1024);

  constructor(
    private readonly sink: EngineSink,
    private readonly kind: BookKind = "fast",
    accounts = new AccountRegistry(),
  ) {
    this.accounts = accounts;
  }

  get marketCount(): number {
    return this.books.length;
  }

  book(symbol: string): OrderBook | undefined {
    return this.bySymbol.get(symbol);
  }

  markets(): readonly OrderBook[] {
    return this.books;
  }

  // ---------------------------------------------------------------- admin

  /** Adds a market; returns its market id, or −1 (and adminRejected) when invalid or a duplicate. */
  addMarket(spec: MarketSpec): number {
    const err = validateMarketSpec(spec);
    if (err !== null) {
      this.sink.adminRejected(spec.symbol, "INVALID_MARKET_SPEC", err);
      return -1;
    }
    if (this.bySymbol.has(spec.symbol)) {
      this.sink.adminRejected(spec.symbol, "DUPLICATE_SYMBOL", `market ${spec.symbol} exists`);
      return -1;
    }
    const id = this.books.length;
    const b: OrderBook =
      this.kind === "fast"
        ? new FastBook(id, spec, this.sink, { arena: this.arena })
        : new ReferenceBook(id, spec, this.sink);
    this.books.push(b);
    this.bySymbol.set(spec.symbol, b);
    this.sink.marketChanged(id, b.spec);
    return id;
  }

  setMarketStatus(symbol: string, status: MarketStatus, timeMs: number): boolean {
    const b = this.bySymbol.get(symbol);
    if (b === undefined) return this.adminFail(symbol, "UNKNOWN_SYMBOL", "no such market");
    if (status !== 1 && status !== 2 && status !== 3)
      return this.adminFail(symbol, "INVALID_STATUS", "bad status");
    b.setStatus(status, timeMs);
    this.sink.marketChanged(b.marketId, b.spec);
    return true;
  }

  updateFilters(symbol: string, filters: MarketFilters): boolean {
    const b = this.bySymbol.get(symbol);
    if (b === undefined) return this.adminFail(symbol, "UNKNOWN_SYMBOL", "no such market");
    const err = validateFilters(filters);
    if (err !== null) return this.adminFail(symbol, "INVALID_FILTERS", err);
    b.updateFilters(filters);
    this.sink.marketChanged(b.marketId, b.spec);
    return true;
  }

  private adminFail(symbol: string, code: string, msg: string): false {
    this.sink.adminRejected(symbol, code, msg);
    return false;
  }

  // ---------------------------------------------------------------- trading

  place(symbol: string, cmd: PlaceCommand, timeMs: number): void {
    const b = this.bySymbol.get(symbol);
    if (b === undefined) this.sink.rejected(-1, this.rej.fromPlace(cmd, timeMs), RejectReason.UNKNOWN_SYMBOL);
    else b.place(cmd, timeMs);
  }

  cancel(symbol: string, cmd: CancelCommand, timeMs: number): void {
    const b = this.bySymbol.get(symbol);
    if (b === undefined)
      this.sink.rejected(
        -1,
        this.rej.fromRef(cmd.account, cmd.orderId, cmd.clientOrderId, timeMs),
        RejectReason.UNKNOWN_SYMBOL,
      );
    else b.cancel(cmd, timeMs);
  }

  replace(symbol: string, cmd: ReplaceCommand, timeMs: number): void {
    const b = this.bySymbol.get(symbol);
    if (b === undefined)
      this.sink.rejected(
        -1,
        this.rej.fromRef(cmd.account, cmd.orderId, cmd.clientOrderId, timeMs),
        RejectReason.UNKNOWN_SYMBOL,
      );
    else b.replace(cmd, timeMs);
  }

  /** Mass cancel of an account: in one market when symbol is given, else in every market (market id order). */
  massCancel(account: number, timeMs: number, symbol?: string): void {
    if (symbol !== undefined && symbol !== "") {
      this.bySymbol.get(symbol)?.massCancel(account, timeMs);
      return;
    }
    for (const b of this.books) b.massCancel(account, timeMs);
  }

  // ---------------------------------------------------------------- snapshots

  snapshot(): EngineSnapshot {
    return { version: 1, accounts: this.accounts.list(), books: this.books.map((b) => b.snapshot()) };
  }

  static restore(snap: EngineSnapshot, sink: EngineSink, kind: BookKind = "fast"): Engine {
    const e = new Engine(sink, kind, AccountRegistry.from(snap.accounts));
    for (const bs of snap.books) {
      const b =
        kind === "fast" ? FastBook.restore(bs, sink, { arena: e.arena }) : ReferenceBook.restore(bs, sink);
      e.books.push(b);
      e.bySymbol.set(b.spec.symbol, b);
    }
    return e;
  }
}
