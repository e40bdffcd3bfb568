/**
 * Binance's capital (wallet) endpoints under /sapi/v1, over the wallet's gRPC API, so that clients of
 * Binance (ccxt `fetchDeposits`, `fetchWithdrawals`, `withdraw`, `fetchDepositAddress`) work unchanged:
 *
 *   GET  /sapi/v1/capital/deposit/hisrec     Wallet.ListDeposits      (read)
 *   GET  /sapi/v1/capital/withdraw/history   Wallet.ListWithdrawals   (read)
 *   POST /sapi/v1/capital/withdraw/apply     Wallet.RequestWithdrawal (withdraw; else -1002 as Binance)
 *   GET  /sapi/v1/capital/deposit/address    the exchange's hot wallet (configuration)
 *
 * SIGNED exactly like /api/v3 (signed.ts). The account is the API key's. Amounts are decimal text at the
 * edge and integer minor units of the asset (the wallet's ledger decimals) inside; more decimals than
 * the asset has are refused, never rounded.
 *
 * Paging: Binance pages by `offset`/`limit`, the wallet by opaque keyset tokens. A request walks the
 * wallet's pages from the newest row, skips `offset` rows (after the filters the wallet cannot apply)
 * and returns the next `limit`; its weight grows with the rows it has to walk. Like any offset paging
 * over a list that grows at the top, a row arriving between two requests shifts the offsets: page by
 * `endTime` (the oldest `insertTime` / `applyTime` seen, minus 1) for a stable walk.
 *
 * Withdrawal ids: the wallet's ids are global, so the account is part of them — `<account>:w:<withdrawOrderId>`
 * when the client names the withdrawal (a retry with the same withdrawOrderId and parameters returns the
 * same withdrawal; other parameters → -5009), `<account>:g:<random>` otherwise. That id is Binance's `id`.
 */
import { randomBytes } from "node:crypto";
import type { Logger } from "@excraft/platform";
import {
  type Deposit,
  DepositStatus,
  type ListDepositsResponse,
  type ListWithdrawalsResponse,
  type Withdrawal,
  WithdrawalStatus,
} from "@excraft/proto";
import type { FastifyPluginAsync, FastifyRequest } from "fastify";
import { formatFixed, formatUnits, pow10 } from "../decimal.ts";
import { BinanceError, errors, SYMBOL_PATTERN } from "../errors.ts";
import type { ApiKeyStore, Permission } from "../keys/api-keys.ts";
import { WalletCallError, type WalletPort } from "../orders/backends.ts";
import { DECIMAL_PATTERN } from "../orders/units.ts";
import type { WalletReference } from "../orders/wallet-reference.ts";
import { ADDRESS_PATTERN, LINK_ERRORS } from "./account-routes.ts";
import { intOf, isSafeIntegerText, required, str } from "./params.ts";
import { authenticate, type Params, registerFormBody } from "./signed.ts";

/** The one network on-chain assets move on (Binance's name for Ethereum mainnet and ERC-20). */
export const NETWORK = "ETH";

const DAY_MS = 86_400_000;
/** Binance: the time between startTime and endTime must not exceed 90 days. */
export const MAX_WINDOW_MS = 90 * DAY_MS;
/** Binance: with withdrawOrderId and no times, the last 7 days. */
const WITHDRAW_ORDER_ID_WINDOW_MS = 7 * DAY_MS;
/** The wallet refuses time bounds after 9999-12-31 (no row can be that late). */
const MAX_TIME_MS = 253_402_300_799_999;
/** Binance: limit default 1000, max 1000 (the wallet's largest page too). */
const MAX_LIMIT = 1_000;
const INT64_MAX = 2n ** 63n - 1n;
/** Binance's idList holds at most 50 ids. */
const MAX_ID_LIST = 50;

/** withdrawOrderId: the characters the wallet accepts in ids; the account prefix must still fit 128. */
export const WITHDRAW_ORDER_ID_PATTERN = "^[\\.A-Z\\:/a-z0-9_-]{1,60}$";
const WITHDRAW_ORDER_ID_RE = new RegExp(WITHDRAW_ORDER_ID_PATTERN);
const TX_ID_PATTERN = "^0x[0-9a-fA-F]{64}$";
const TX_ID_RE = new RegExp(TX_ID_PATTERN);
const COIN_RE = new RegExp(SYMBOL_PATTERN);
const ADDRESS_RE = new RegExp(ADDRESS_PATTERN);
const DECIMAL_RE = new RegExp(DECIMAL_PATTERN);

/**
 * Binance's SAPI codes and texts for the capital endpoints, and ExCraft's -5009..-5011 (the range
 * -5000..-5099 of account-routes.ts) where Binance has none.
 */
export const CAPITAL_ERRORS = {
  /** Binance's answer to a withdrawal with a key that has no withdrawal permission. */
  notAuthorized: () => new BinanceError(401, -1002, "You are not authorized to execute this request."),
  unknownCoin: () => new BinanceError(400, -4018, "We don't have this asset."),
  notWithdrawable: () => new BinanceError(400, -4019, "Current asset is not open for withdrawal."),
  amountStep: (step: string) =>
    new BinanceError(400, -4021, `Asset withdrawal must be an integer multiple of ${step}.`),
  belowMinimum: (minimum: string) =>
    new BinanceError(400, -4022, `Not less than the minimum pick-up quantity ${minimum}.`),
  insufficientBalance: () => new BinanceError(400, -4026, "You have insufficient balance."),
  illegalAddress: () => new BinanceError(400, -4033, "Illegal address."),
  timeInterval: () => new BinanceError(400, -4047, "Time interval must be within 0-90 days"),
  notRequired: (param: string) =>
    new BinanceError(400, -1106, `Parameter '${param}' sent when not required.`),
  withdrawOrderIdUsed: () =>
    new BinanceError(409, -5009, "withdrawOrderId was already used for a withdrawal with other parameters."),
  notDepositable: (coin: string, onChain: string[]) =>
    new BinanceError(
      400,
      -5010,
      `${coin} is not deposited on chain here (${onChain.length > 0 ? `on-chain coins: ${onChain.join(", ")}` : "no coin is deposited on chain here"}).`,
    ),
  noDepositAddress: () => new BinanceError(503, -5011, "No deposit address is configured on this gateway."),
} as const;

/** Binance deposit status: 0 pending, 1 success, 2 rejected (DROPPED: left the chain before it was credited). */
const DEPOSIT_STATUS_CODE: Record<number, number> = {
  [DepositStatus.PENDING]: 0,
  [DepositStatus.CREDITED]: 1,
  [DepositStatus.DROPPED]: 2,
};
/** Binance's documented deposit statuses the wallet never has (6 credited but locked, 7 wrong, 8 waiting user). */
const DEPOSIT_STATUS_NEVER = new Set([6, 7, 8]);

/**
 * Binance withdraw status: 4 processing (held, or signed and broadcast), 6 completed (confirmed and paid),
 * 5 failure (reverted on chain; the amount was released).
 */
const WITHDRAW_STATUS_CODE: Record<number, number> = {
  [WithdrawalStatus.PENDING]: 4,
  [WithdrawalStatus.SENT]: 4,
  [WithdrawalStatus.CONFIRMED]: 6,
  [WithdrawalStatus.FAILED]: 5,
};
/** 0 email sent, 1 cancelled, 2 awaiting approval, 3 rejected: documented, never produced here. */
const WITHDRAW_STATUS_NEVER = new Set([0, 1, 2, 3]);

export interface CapitalRoutesOptions {
  keys: ApiKeyStore;
  wallet: Pick<WalletPort, "requestWithdrawal" | "listWithdrawals" | "listDeposits">;
  /** Asset decimals and which assets move on chain (Wallet.GetAssets). */
  reference: WalletReference;
  logger: Logger;
  now: () => number;
  /** The exchange's hot wallet: where ETH and EXT are deposited. Unset: deposit/address answers -5011. */
  depositAddress?: string;
  /** Rows asked of the wallet per list call while walking pages (default and maximum 1000). */
  walletPageSize?: number;
}

// ------------------------------------------------------------------------------------ parameters

function coinOf(params: Params, mandatory: boolean): string | undefined {
  const coin = mandatory ? required(params, "coin") : str(params, "coin");
  if (coin !== undefined && !COIN_RE.test(coin)) {
    throw errors.illegalChars("coin", SYMBOL_PATTERN);
  }
  return coin;
}

function checkNetwork(params: Params): void {
  const network = str(params, "network");
  if (network !== undefined && network !== NETWORK) throw errors.illegalChars("network", NETWORK);
}

/** offset (default 0) and limit (default 1000; above 1000 truncated, below 1 raised, as the gateway does). */
function pagingOf(params: Params): { offset: number; limit: number } {
  const offset = intOf(params, "offset") ?? 0;
  const limit = Math.min(Math.max(intOf(params, "limit") ?? MAX_LIMIT, 1), MAX_LIMIT);
  return { offset, limit };
}

/**
 * startTime / endTime (both inclusive) → the wallet's [from, to). Defaults as Binance: endTime now,
 * startTime `defaultSpanMs` before endTime; more than 90 days apart, or start after end → -4047.
 */
function windowOf(
  params: Params,
  now: number,
  defaultSpanMs: number,
): { fromTimeMs: bigint; toTimeMs: bigint } {
  const start = intOf(params, "startTime");
  const end = intOf(params, "endTime") ?? now;
  const from = start ?? end - defaultSpanMs;
  if (from > end || end - from > MAX_WINDOW_MS) throw CAPITAL_ERRORS.timeInterval();
  // 0 is "no bound" for the wallet; nothing is older than 1970 or newer than year 9999 anyway.
  const fromTimeMs = Math.min(Math.max(from, 0), MAX_TIME_MS - 1);
  const toTimeMs = Math.min(end + 1, MAX_TIME_MS);
  return { fromTimeMs: BigInt(fromTimeMs), toTimeMs: BigInt(Math.max(toTimeMs, fromTimeMs + 1)) };
}

/**
 * Weight of a history request: one unit per wallet page of 1000 rows it may walk
 * (⌈(offset + limit) / 1000⌉); malformed values weigh as the defaults.
 */
export function pagesWalked(query: Record<string, unknown>): number {
  const number = (v: unknown, fallback: number) =>
    typeof v === "string" && isSafeIntegerText(v) ? Number(v) : fallback;
  const offset = number(query.offset, 0);
  const limit = Math.min(Math.max(number(query.limit, MAX_LIMIT), 1), MAX_LIMIT);
  return Math.max(1, Math.ceil((offset + limit) / MAX_LIMIT));
}

/** Decimal text → minor units of an asset with `decimals`, exactly (finer digits refused, never rounded). */
export function amountUnits(text: string, decimals: number): bigint {
  if (!DECIMAL_RE.test(text)) throw errors.illegalChars("amount", DECIMAL_PATTERN);
  const [int = "0", frac = ""] = text.split(".");
  const step = formatFixed(1n, decimals);
  if (/[1-9]/.test(frac.slice(decimals))) throw CAPITAL_ERRORS.amountStep(step);
  const units = BigInt(int) * pow10(decimals) + BigInt(frac.slice(0, decimals).padEnd(decimals, "0") || "0");
  if (units === 0n) throw CAPITAL_ERRORS.belowMinimum(step);
  // The ledger holds int64 minor units: no balance can cover more.
  if (units > INT64_MAX) throw CAPITAL_ERRORS.insufficientBalance();
  return units;
}

// ------------------------------------------------------------------------------------ views

/** "YYYY-MM-DD HH:mm:ss" in UTC, Binance's applyTime / completeTime format. */
export function utcText(ms: bigint | number): string {
  return new Date(Number(ms)).toISOString().slice(0, 19).replace("T", " ");
}

const withdrawOrderIdPrefix = (accountId: string) => `${accountId}:w:`;

// ------------------------------------------------------------------------------------ routes

/** Mount under the /sapi/v1 prefix. */
export const capitalRoutes: FastifyPluginAsync<CapitalRoutesOptions> = async (app, o) => {
  registerFormBody(app);
  const pageSize = Math.min(Math.max(o.walletPageSize ?? MAX_LIMIT, 1), MAX_LIMIT);
  if (o.depositAddress !== undefined && !ADDRESS_RE.test(o.depositAddress)) {
    throw new Error(`depositAddress must be 0x and 40 hex digits, got ${JSON.stringify(o.depositAddress)}`);
  }

  // Binance's SAPI endpoints report their IP weight under this name as well.
  app.addHook("onSend", async (request, reply) => {
    reply.header("X-SAPI-USED-IP-WEIGHT-1M", String(request.usedWeight ?? 0));
  });

  const signed = (request: FastifyRequest, permission: Permission, permissionDenied?: () => BinanceError) => {
    // A JSON (or other parsed) body would be silently ignored by the signature check: refuse it.
    if (request.body !== undefined && typeof request.body !== "string") throw LINK_ERRORS.notForm();
    return authenticate(request, permission, { keys: o.keys, now: o.now, permissionDenied });
  };

  /** The asset of `coin` as the wallet lists it; -4018 when the wallet does not know it. */
  const assetOf = async (coin: string) => {
    const asset = await o.reference.asset(coin);
    if (!asset) throw CAPITAL_ERRORS.unknownCoin();
    return asset;
  };
  const decimalsOf = async (coin: string) => (await assetOf(coin)).decimals;

  /** A wallet refusal of a list call: the gateway checked what a client controls, so this is unexpected. */
  const listError = (error: unknown, what: string): unknown => {
    if (!(error instanceof WalletCallError)) return error;
    if (error.code === "UNKNOWN_ASSET") return CAPITAL_ERRORS.unknownCoin();
    o.logger.warn({ err: error, field: error.field }, `wallet refused ${what}`);
    return error.code === "INVALID_ARGUMENT" ? errors.invalidParameter() : errors.unknown();
  };

  /**
   * Walks the wallet's pages newest first: skips `offset` rows that pass `keep`, returns the next
   * `limit`. Without a gateway-side filter each call asks only for the rows still needed.
   */
  async function walk<T>(
    fetchPage: (limit: number, pageToken: string) => Promise<{ items: T[]; next: string }>,
    keep: ((item: T) => boolean) | undefined,
    offset: number,
    limit: number,
  ): Promise<T[]> {
    const out: T[] = [];
    let skip = offset;
    let token = "";
    do {
      const want = keep ? pageSize : Math.min(pageSize, skip + limit - out.length);
      const page = await fetchPage(want, token);
      for (const item of page.items) {
        if (keep && !keep(item)) continue;
        if (skip > 0) {
          skip--;
          continue;
        }
        out.push(item);
        if (out.length === limit) return out;
      }
      token = page.next;
    } while (token !== "");
    return out;
  }

  app.get("/capital/deposit/hisrec", { config: { weight: (q) => pagesWalked(q) } }, async (request) => {
    const { key, params } = await signed(request, "read");
    const coin = coinOf(params, false);
    const statusCode = intOf(params, "status");
    const txId = str(params, "txId");
    if (txId !== undefined && !TX_ID_RE.test(txId)) {
      throw errors.illegalChars("txId", TX_ID_PATTERN);
    }
    const { offset, limit } = pagingOf(params);
    const window = windowOf(params, o.now(), MAX_WINDOW_MS);
    if (coin !== undefined) await assetOf(coin);
    let status = DepositStatus.UNSPECIFIED;
    if (statusCode !== undefined) {
      if (DEPOSIT_STATUS_NEVER.has(statusCode)) return [];
      const found = Object.entries(DEPOSIT_STATUS_CODE).find(([, code]) => code === statusCode);
      if (!found) throw errors.invalidParameter();
      status = Number(found[0]) as DepositStatus;
    }
    const tx = txId?.toLowerCase();
    let deposits: Deposit[];
    try {
      deposits = await walk(
        async (pageLimit, pageToken) => {
          const r: ListDepositsResponse = await o.wallet.listDeposits({
            accountId: key.accountId,
            limit: pageLimit,
            pageToken,
            asset: coin ?? "",
            status,
            ...window,
          });
          return { items: r.deposits, next: r.nextPageToken };
        },
        tx === undefined ? undefined : (d) => d.txHash.toLowerCase() === tx,
        offset,
        limit,
      );
    } catch (error) {
      throw listError(error, "ListDeposits");
    }
    const out = [];
    for (const d of deposits) {
      const fromChain = d.txHash !== "";
      out.push({
        id: d.reference,
        amount: formatUnits(d.amount, await decimalsOf(d.asset)),
        coin: d.asset,
        network: fromChain ? NETWORK : "",
        status: DEPOSIT_STATUS_CODE[d.status] ?? 0,
        address: fromChain ? (o.depositAddress ?? "") : "",
        addressTag: "",
        txId: d.txHash,
        insertTime: Number(d.timeMs),
        // 1: not from the chain (a credit booked by the exchange), as Binance marks internal transfers.
        transferType: fromChain ? 0 : 1,
        confirmTimes: `${d.confirmations}/${d.requiredConfirmations}`,
        unlockConfirm: d.requiredConfirmations,
        walletType: 0,
      });
    }
    return out;
  });

  app.get(
    "/capital/withdraw/history",
    // Binance limits this endpoint to 10 requests per second; weight 10 per page does the same here.
    { config: { weight: (q) => 10 * pagesWalked(q) } },
    async (request) => {
      const { key, params } = await signed(request, "read");
      const coin = coinOf(params, false);
      const withdrawOrderId = str(params, "withdrawOrderId");
      if (withdrawOrderId !== undefined && !WITHDRAW_ORDER_ID_RE.test(withdrawOrderId)) {
        throw errors.illegalChars("withdrawOrderId", WITHDRAW_ORDER_ID_PATTERN);
      }
      const idListText = str(params, "idList");
      const idList = idListText === undefined ? undefined : new Set(idListText.split(","));
      if (idList && (idList.size > MAX_ID_LIST || idList.has(""))) throw errors.invalidParameter();
      const statusCode = intOf(params, "status");
      const { offset, limit } = pagingOf(params);
      const window = windowOf(
        params,
        o.now(),
        withdrawOrderId === undefined ? MAX_WINDOW_MS : WITHDRAW_ORDER_ID_WINDOW_MS,
      );
      if (coin !== undefined) await assetOf(coin);
      let status = WithdrawalStatus.UNSPECIFIED;
      let processing = false; // 4 = PENDING or SENT: filtered here (the wallet filters one status)
      if (statusCode !== undefined) {
        if (WITHDRAW_STATUS_NEVER.has(statusCode)) return [];
        if (statusCode === 4) processing = true;
        else if (statusCode === 5) status = WithdrawalStatus.FAILED;
        else if (statusCode === 6) status = WithdrawalStatus.CONFIRMED;
        else throw errors.invalidParameter();
      }
      const prefix = withdrawOrderIdPrefix(key.accountId);
      const walletId = withdrawOrderId === undefined ? undefined : prefix + withdrawOrderId;
      const keep =
        processing || walletId !== undefined || idList !== undefined
          ? (w: Withdrawal) =>
              (!processing || WITHDRAW_STATUS_CODE[w.status] === 4) &&
              (walletId === undefined || w.withdrawalId === walletId) &&
              (idList === undefined || idList.has(w.withdrawalId))
          : undefined;
      let withdrawals: Withdrawal[];
      try {
        withdrawals = await walk(
          async (pageLimit, pageToken) => {
            const r: ListWithdrawalsResponse = await o.wallet.listWithdrawals({
              accountId: key.accountId,
              limit: pageLimit,
              pageToken,
              asset: coin ?? "",
              status,
              ...window,
            });
            return { items: r.withdrawals, next: r.nextPageToken };
          },
          keep,
          offset,
          limit,
        );
      } catch (error) {
        throw listError(error, "ListWithdrawals");
      }
      const out = [];
      for (const w of withdrawals) {
        const decimals = await decimalsOf(w.asset);
        const code = WITHDRAW_STATUS_CODE[w.status] ?? 4;
        out.push({
          id: w.withdrawalId,
          amount: formatUnits(w.amount, decimals),
          // Gas is paid by the exchange's hot wallet and not charged to the account.
          transactionFee: formatUnits(0n, decimals),
          coin: w.asset,
          status: code,
          address: w.toAddress,
          txId: w.txHash,
          applyTime: utcText(w.createdTimeMs),
          network: NETWORK,
          transferType: 0,
          ...(w.withdrawalId.startsWith(prefix)
            ? { withdrawOrderId: w.withdrawalId.slice(prefix.length) }
            : {}),
          info: code === 5 ? "The withdrawal transaction reverted on chain; the amount was released." : "",
          ...(code === 6 ? { completeTime: utcText(w.updatedTimeMs) } : {}),
          walletType: 0,
        });
      }
      return out;
    },
  );

  app.post("/capital/withdraw/apply", { config: { weight: () => 1 } }, async (request) => {
    const { key, params } = await signed(request, "withdraw", CAPITAL_ERRORS.notAuthorized);
    const coin = coinOf(params, true)!;
    checkNetwork(params);
    const address = required(params, "address");
    if (!ADDRESS_RE.test(address)) throw CAPITAL_ERRORS.illegalAddress();
    if (str(params, "addressTag") !== undefined) throw CAPITAL_ERRORS.notRequired("addressTag");
    const walletType = str(params, "walletType");
    if (walletType !== undefined && walletType !== "0") throw errors.illegalChars("walletType", "0");
    const withdrawOrderId = str(params, "withdrawOrderId");
    if (withdrawOrderId !== undefined && !WITHDRAW_ORDER_ID_RE.test(withdrawOrderId)) {
      throw errors.illegalChars("withdrawOrderId", WITHDRAW_ORDER_ID_PATTERN);
    }
    const amountText = required(params, "amount");
    if (!DECIMAL_RE.test(amountText)) throw errors.illegalChars("amount", DECIMAL_PATTERN);
    const asset = await assetOf(coin);
    const amount = amountUnits(amountText, asset.decimals);
    const withdrawalId =
      withdrawOrderId === undefined
        ? `${key.accountId}:g:${randomBytes(16).toString("hex")}`
        : withdrawOrderIdPrefix(key.accountId) + withdrawOrderId;
    try {
      const r = await o.wallet.requestWithdrawal({
        withdrawalId,
        accountId: key.accountId,
        asset: coin,
        amount,
        toAddress: address,
      });
      o.logger.info(
        { accountId: key.accountId, withdrawalId, asset: coin, amount: amount.toString(), to: address },
        "withdrawal requested",
      );
      return { id: r.withdrawal?.withdrawalId ?? withdrawalId };
    } catch (error) {
      throw withdrawError(error);
    }
  });

  /** The wallet's refusal of a withdrawal → Binance's code; nothing was held. */
  function withdrawError(error: unknown): unknown {
    if (!(error instanceof WalletCallError)) return error;
    switch (error.code) {
      case "UNKNOWN_ASSET":
        return CAPITAL_ERRORS.unknownCoin();
      case "FAILED_PRECONDITION": // an off-chain asset, or no chain gateway in the wallet
        return CAPITAL_ERRORS.notWithdrawable();
      case "INSUFFICIENT_BALANCE":
        return CAPITAL_ERRORS.insufficientBalance();
      case "ALREADY_EXISTS": // the id exists with other parameters
      case "PERMISSION_DENIED": // the id exists for another account (cannot happen: ids name the account)
        return CAPITAL_ERRORS.withdrawOrderIdUsed();
      case "INVALID_ARGUMENT":
        if (error.field === "to_address") return CAPITAL_ERRORS.illegalAddress();
    }
    o.logger.warn({ err: error, field: error.field }, "wallet refused a withdrawal unexpectedly");
    return error.code === "INVALID_ARGUMENT" ? errors.invalidParameter() : errors.unknown();
  }

  app.get("/capital/deposit/address", { config: { weight: () => 10 } }, async (request) => {
    const { params } = await signed(request, "read");
    const coin = coinOf(params, true)!;
    checkNetwork(params);
    const asset = await assetOf(coin);
    if (!asset.onChain) throw CAPITAL_ERRORS.notDepositable(coin, o.reference.onChainAssets());
    if (o.depositAddress === undefined) throw CAPITAL_ERRORS.noDepositAddress();
    // Credited only when sent from the account's linked address (R-24): see the README.
    return { coin, address: o.depositAddress, tag: "", url: "" };
  });
};
