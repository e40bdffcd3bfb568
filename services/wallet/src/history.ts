import { createHash } from "node:crypto";
import type pg from "pg";
import type { WithdrawalRow } from "./chain";
import { invalid } from "./errors";
import { checkAccount } from "./ledger";

/**
 * Deposit and withdrawal history, a page at a time (ListDeposits, ListWithdrawals).
 *
 * Both lists are ordered newest first by a key that never changes once a row exists — (time, id) — and
 * paged by keyset: the page token holds the key of the last row returned, the next page starts strictly
 * below it. A row therefore appears at most once across pages whatever is inserted or updated meanwhile,
 * and every row that existed when the first page was read appears exactly once; rows added while paging
 * sort above the first page (they are newer) and show up in a fresh listing.
 */

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;
const MAX_TOKEN_LENGTH = 1024;

export type DepositState = "pending" | "credited" | "dropped";

export interface DepositRow {
  reference: string;
  asset: string;
  amount: bigint;
  txHash: string;
  status: DepositState;
  /** First recorded (seen on chain, or credited when not from the chain): the list order. */
  timeMs: bigint;
  confirmations: number;
  requiredConfirmations: number;
  blockNumber: bigint;
  /** 0 unless credited. */
  creditedTimeMs: bigint;
}

export interface HistoryQuery<Status extends string> {
  accountId: string;
  /** Page size as requested: 0 = DEFAULT_PAGE_SIZE, at most MAX_PAGE_SIZE. */
  limit: number;
  /** A previous page's nextPageToken; "" = the first page. */
  pageToken: string;
  /** "" = every asset (the caller checks that a named asset exists). */
  asset: string;
  /** undefined = every status. */
  status: Status | undefined;
  /** Inclusive lower bound in ms since the epoch; 0n = none. */
  fromTimeMs: bigint;
  /** Exclusive upper bound in ms since the epoch; 0n = none. */
  toTimeMs: bigint;
}

export interface Page<T> {
  items: T[];
  /** "" on the last page. */
  nextPageToken: string;
}

/** Page size of the list RPCs: 0 = 100, at most 1000. */
export function pageLimit(limit: number): number {
  if (!Number.isInteger(limit) || limit < 0 || limit > MAX_PAGE_SIZE) {
    throw invalid("limit", `limit must be 0..${MAX_PAGE_SIZE} (0 = ${DEFAULT_PAGE_SIZE}), got ${limit}`);
  }
  return limit === 0 ? DEFAULT_PAGE_SIZE : limit;
}

/** 9999-12-31T23:59:59.999Z: later bounds are certainly typos (and beyond what a timestamp column holds). */
const MAX_TIME_MS = 253_402_300_799_999n;

function checkTimeRange(fromTimeMs: bigint, toTimeMs: bigint): void {
  for (const [field, t] of [
    ["from_time_ms", fromTimeMs],
    ["to_time_ms", toTimeMs],
  ] as const) {
    if (t < 0n || t > MAX_TIME_MS) {
      throw invalid(field, `${field} must be 0 (no bound) or ms since 1970 up to ${MAX_TIME_MS}, got ${t}`);
    }
  }
  if (fromTimeMs > 0n && toTimeMs > 0n && toTimeMs <= fromTimeMs) {
    throw invalid("to_time_ms", "to_time_ms must be after from_time_ms");
  }
}

/** Position after the last row of a page: its sort time (a decimal integer) and its id. */
interface Cursor {
  time: bigint;
  id: string;
}

/**
 * Which query a token belongs to. A token replayed with another account or other filters is refused
 * rather than silently continuing a different listing. (Not a secret: the account always comes from the
 * request, so a hand-made token can only move within the caller's own rows.)
 */
function fingerprint(list: string, q: HistoryQuery<string>): string {
  const key = JSON.stringify([
    list,
    q.accountId,
    q.asset,
    q.status ?? "",
    q.fromTimeMs.toString(),
    q.toTimeMs.toString(),
  ]);
  return createHash("sha256").update(key).digest("base64url").slice(0, 16);
}

function encodeToken(list: string, q: HistoryQuery<string>, c: Cursor): string {
  return Buffer.from(
    JSON.stringify({ v: 1, q: fingerprint(list, q), t: c.time.toString(), i: c.id }),
  ).toString("base64url");
}

function decodeToken(list: string, q: HistoryQuery<string>): Cursor | undefined {
  const token = q.pageToken;
  if (token === "") return undefined;
  const malformed = () =>
    invalid("page_token", "page_token is malformed (pass next_page_token back unchanged)");
  if (token.length > MAX_TOKEN_LENGTH || !/^[A-Za-z0-9_-]+$/.test(token)) throw malformed();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    throw malformed();
  }
  const p = parsed as { v?: unknown; q?: unknown; t?: unknown; i?: unknown };
  if (
    typeof p !== "object" ||
    p === null ||
    p.v !== 1 ||
    typeof p.q !== "string" ||
    typeof p.t !== "string" ||
    !/^\d{1,20}$/.test(p.t) ||
    typeof p.i !== "string" ||
    p.i.length === 0 ||
    p.i.length > 200
  ) {
    throw malformed();
  }
  const time = BigInt(p.t);
  if (time > MAX_TIME_MS * 1000n) throw malformed(); // cursors hold ms or µs since 1970
  if (p.q !== fingerprint(list, q)) {
    throw invalid(
      "page_token",
      "page_token was issued for another account or other filters (keep them unchanged while paging)",
    );
  }
  return { time, id: p.i };
}

/** Validates a query; returns the row limit and the cursor. Throws INVALID_ARGUMENT before any read. */
function prepare(list: string, q: HistoryQuery<string>): { limit: number; cursor: Cursor | undefined } {
  checkAccount(q.accountId);
  const limit = pageLimit(q.limit);
  checkTimeRange(q.fromTimeMs, q.toTimeMs);
  return { limit, cursor: decodeToken(list, q) };
}

function page<T>(
  list: string,
  q: HistoryQuery<string>,
  rows: T[],
  limit: number,
  cursorOf: (row: T) => Cursor,
): Page<T> {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  const more = rows.length > limit && last !== undefined;
  return { items, nextPageToken: more ? encodeToken(list, q, cursorOf(last)) : "" };
}

const nullIfZero = (t: bigint) => (t === 0n ? null : t.toString());
/** A time bound in ms as an exact timestamptz literal; null = no bound. */
const timestampOfMs = (t: bigint) => (t === 0n ? null : new Date(Number(t)).toISOString());
/** A cursor time in µs since 1970 as an exact timestamptz literal (withdrawals.created_at has µs precision). */
function timestampOfUs(us: bigint): string {
  const iso = new Date(Number(us / 1000n)).toISOString(); // …T12:34:56.789Z
  return `${iso.slice(0, -1)}${(us % 1000n).toString().padStart(3, "0")}Z`;
}
const TX_OF_REFERENCE = /^chain:(0x[0-9a-fA-F]{64}):/;

/**
 * An account's deposits, newest first: credited ones (external_flows, the ledger's truth) and chain deposits
 * not credited (yet): pending or dropped (chain_deposits). A chain deposit's place is the time it was
 * first seen, kept when it is credited; deposits not from the chain sort by the time they were credited.
 * Ties are broken by reference (byte order).
 */
export async function listDeposits(pool: pg.Pool, q: HistoryQuery<DepositState>): Promise<Page<DepositRow>> {
  const { limit, cursor } = prepare("deposits", q);
  const r = await pool.query(
    `with listed as (
       select f.reference, f.asset, f.amount, 'credited' as status,
              coalesce(c.seen_ms, j.time_ms) as time_ms, j.time_ms as credited_ms,
              coalesce(c.confirmations, 0) as confirmations,
              coalesce(c.required_confirmations, 0) as required_confirmations,
              coalesce(c.block_number, 0) as block_number
         from external_flows f
         join journal_entries j on j.entry_id = f.entry_id
         left join chain_deposits c on c.reference = f.reference
        where f.account_id = $1 and f.kind = 'deposit'
       union all
       select c.reference, c.asset, c.amount, c.status, c.seen_ms, 0, c.confirmations,
              c.required_confirmations, c.block_number
         from chain_deposits c
        where c.account_id = $1 and c.status in ('pending', 'dropped')
          -- credited, but the scanner stopped before marking the row: the ledger's row above is the truth
          and not exists (select 1 from journal_entries j
                           where j.kind = 'deposit' and j.source = 'deposit:' || c.reference)
     )
     select * from listed
      where ($2::text is null or asset = $2)
        and ($3::text is null or status = $3)
        and ($4::bigint is null or time_ms >= $4)
        and ($5::bigint is null or time_ms < $5)
        and ($6::bigint is null or (time_ms, reference collate "C") < ($6, $7::text collate "C"))
      order by time_ms desc, reference collate "C" desc
      limit $8`,
    [
      q.accountId,
      q.asset === "" ? null : q.asset,
      q.status ?? null,
      nullIfZero(q.fromTimeMs),
      nullIfZero(q.toTimeMs),
      cursor ? cursor.time.toString() : null,
      cursor ? cursor.id : null,
      limit + 1,
    ],
  );
  const rows: DepositRow[] = r.rows.map((x) => ({
    reference: x.reference,
    asset: x.asset,
    amount: BigInt(x.amount),
    txHash: TX_OF_REFERENCE.exec(x.reference)?.[1] ?? "",
    status: x.status,
    timeMs: BigInt(x.time_ms),
    confirmations: Number(x.confirmations),
    requiredConfirmations: Number(x.required_confirmations),
    blockNumber: BigInt(x.block_number),
    creditedTimeMs: BigInt(x.credited_ms),
  }));
  return page("deposits", q, rows, limit, (d) => ({ time: d.timeMs, id: d.reference }));
}

/**
 * An account's withdrawals, newest first by creation time (microseconds, as stored), then withdrawal id.
 * Readable without a running chain gateway.
 */
export async function listWithdrawals(
  pool: pg.Pool,
  q: HistoryQuery<WithdrawalRow["status"]>,
): Promise<Page<WithdrawalRow>> {
  const { limit, cursor } = prepare("withdrawals", q);
  const r = await pool.query(
    `select w.*, (extract(epoch from w.created_at) * 1000000)::bigint as created_us
       from withdrawals w
      where w.account_id = $1
        and ($2::text is null or w.asset = $2)
        and ($3::text is null or w.status = $3)
        and ($4::timestamptz is null or w.created_at >= $4)
        and ($5::timestamptz is null or w.created_at < $5)
        and ($6::timestamptz is null or (w.created_at, w.withdrawal_id collate "C") < ($6, $7::text collate "C"))
      order by w.created_at desc, w.withdrawal_id collate "C" desc
      limit $8`,
    [
      q.accountId,
      q.asset === "" ? null : q.asset,
      q.status ?? null,
      timestampOfMs(q.fromTimeMs),
      timestampOfMs(q.toTimeMs),
      cursor ? timestampOfUs(cursor.time) : null,
      cursor ? cursor.id : null,
      limit + 1,
    ],
  );
  const rows = r.rows.map((x) => ({ row: withdrawalOf(x), createdUs: BigInt(x.created_us) }));
  const p = page("withdrawals", q, rows, limit, (w) => ({ time: w.createdUs, id: w.row.withdrawalId }));
  return { items: p.items.map((w) => w.row), nextPageToken: p.nextPageToken };
}

export function withdrawalOf(x: Record<string, unknown>): WithdrawalRow {
  return {
    withdrawalId: x.withdrawal_id as string,
    accountId: x.account_id as string,
    asset: x.asset as string,
    amount: BigInt(x.amount as string),
    toAddress: x.to_address as string,
    status: x.status as WithdrawalRow["status"],
    nonce: x.nonce === null ? null : BigInt(x.nonce as string),
    txHash: x.tx_hash as string | null,
    createdTimeMs: (x.created_at as Date).getTime(),
    updatedTimeMs: (x.updated_at as Date).getTime(),
  };
}
