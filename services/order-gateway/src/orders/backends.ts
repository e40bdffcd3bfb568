/**
 * The wallet (`excraft.v1.Wallet`) and the engine's order lookup (`MatchingEngine.GetOrder`) as the
 * order routes see them: promises, Binance errors for what a client can cause, and the wallet's
 * `ErrorDetail` code kept for the rest.
 */
import { errorDetailsOf } from "@excraft/platform";
import {
  type Asset,
  type Balance,
  type GetAssetsRequest,
  type GetBalancesRequest,
  type GetFeeRatesRequest,
  type GetFeeRatesResponse,
  type ListDepositsRequest,
  type ListDepositsResponse,
  type ListWithdrawalsRequest,
  type ListWithdrawalsResponse,
  MatchingEngineClient,
  type OrderState,
  type ReleaseRequest,
  type RequestWithdrawalRequest,
  type RequestWithdrawalResponse,
  type ReserveRequest,
  WalletClient,
} from "@excraft/proto";
import { credentials, Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { BinanceError, errors } from "../errors.ts";

export class WalletCallError extends Error {
  constructor(
    /** The wallet's stable ErrorDetail code (or the gRPC status name when there is none). */
    readonly code: string,
    readonly grpcCode: number,
    message: string,
    /** The request field the wallet refused (ErrorDetail.field), "" when none. */
    readonly field = "",
  ) {
    super(message);
  }
}

export const insufficientBalance = () =>
  new BinanceError(400, -2010, "Account has insufficient balance for requested action.");

export interface WalletPort {
  reserve(accountId: string, asset: string, amount: bigint, orderId: bigint): Promise<Balance | undefined>;
  /** amount 0 = everything still held. A missing reservation (NOT_FOUND) is not an error. */
  release(accountId: string, orderId: bigint, amount?: bigint): Promise<void>;
  balances(accountId: string): Promise<Balance[]>;
  /** The wallet's asset registry (symbol, ledger decimals): the gateway keeps no copy in its config. */
  assets(): Promise<Asset[]>;
  /**
   * The rates `accountId` pays (its overrides applied) in `symbol`, or in every market for "": in force
   * at `atTimeMs` (default now) with every change scheduled after it, and until when that is final.
   */
  feeRates(accountId: string, symbol?: string, atTimeMs?: number): Promise<GetFeeRatesResponse>;
  /**
   * Wallet.RequestWithdrawal: holds the amount durably and queues the on-chain payment; idempotent by
   * withdrawal id. The wallet's refusals are WalletCallErrors (code + field); unreachable → -1001.
   */
  requestWithdrawal(request: RequestWithdrawalRequest): Promise<RequestWithdrawalResponse>;
  /** Wallet.ListWithdrawals: one page, newest first. Errors as `requestWithdrawal`. */
  listWithdrawals(request: ListWithdrawalsRequest): Promise<ListWithdrawalsResponse>;
  /** Wallet.ListDeposits: one page, newest first. Errors as `requestWithdrawal`. */
  listDeposits(request: ListDepositsRequest): Promise<ListDepositsResponse>;
  close(): void;
}

function unary<T>(
  timeoutMs: number,
  send: (md: Metadata, opts: { deadline: Date }, cb: (e: ServiceError | null, v: T) => void) => void,
): Promise<T> {
  return new Promise((resolve, reject) =>
    send(new Metadata(), { deadline: new Date(Date.now() + timeoutMs) }, (error, value) => {
      if (!error) return resolve(value);
      reject(walletCallError(error));
    }),
  );
}

function walletCallError(error: ServiceError): WalletCallError {
  const detail = errorDetailsOf(error.metadata)[0];
  return new WalletCallError(
    detail?.code ?? status[error.code] ?? "UNKNOWN",
    error.code,
    detail?.message || error.details || error.message,
    detail?.field ?? "",
  );
}

/** The wallet calls order entry makes, however they reach the wallet. */
interface WalletCalls {
  reserve(request: ReserveRequest): Promise<{ balance?: Balance }>;
  release(request: ReleaseRequest): Promise<unknown>;
  getBalances(request: GetBalancesRequest): Promise<{ balances: Balance[] }>;
  getAssets(request: GetAssetsRequest): Promise<{ assets: Asset[] }>;
  getFeeRates(request: GetFeeRatesRequest): Promise<GetFeeRatesResponse>;
  requestWithdrawal(request: RequestWithdrawalRequest): Promise<RequestWithdrawalResponse>;
  listWithdrawals(request: ListWithdrawalsRequest): Promise<ListWithdrawalsResponse>;
  listDeposits(request: ListDepositsRequest): Promise<ListDepositsResponse>;
  close(): void;
}

export function grpcWallet(target: string | WalletClient, timeoutMs = 5_000): WalletPort {
  const owned = typeof target === "string";
  const client = typeof target === "string" ? new WalletClient(target, credentials.createInsecure()) : target;
  return walletPort({
    reserve: (request) =>
      unary<{ balance?: Balance }>(timeoutMs, (md, o, cb) => client.reserve(request, md, o, cb)),
    release: (request) => unary(timeoutMs, (md, o, cb) => client.release(request, md, o, cb)),
    getBalances: (request) =>
      unary<{ balances: Balance[] }>(timeoutMs, (md, o, cb) => client.getBalances(request, md, o, cb)),
    getAssets: (request) =>
      unary<{ assets: Asset[] }>(timeoutMs, (md, o, cb) => client.getAssets(request, md, o, cb)),
    getFeeRates: (request) =>
      unary<GetFeeRatesResponse>(timeoutMs, (md, o, cb) => client.getFeeRates(request, md, o, cb)),
    requestWithdrawal: (request) =>
      unary<RequestWithdrawalResponse>(timeoutMs, (md, o, cb) =>
        client.requestWithdrawal(request, md, o, cb),
      ),
    listWithdrawals: (request) =>
      unary<ListWithdrawalsResponse>(timeoutMs, (md, o, cb) => client.listWithdrawals(request, md, o, cb)),
    listDeposits: (request) =>
      unary<ListDepositsResponse>(timeoutMs, (md, o, cb) => client.listDeposits(request, md, o, cb)),
    close() {
      if (owned) client.close();
    },
  });
}

/** A unary handler as grpc-js servers call it (`createWalletHandlers` of @excraft/wallet). */
type UnaryHandler<Req, Res> = (
  call: { request: Req; metadata: Metadata },
  callback: (error: unknown, value?: Res) => void,
) => void;

export interface WalletHandlers {
  reserve: UnaryHandler<ReserveRequest, { balance?: Balance }>;
  release: UnaryHandler<ReleaseRequest, unknown>;
  getBalances: UnaryHandler<GetBalancesRequest, { balances: Balance[] }>;
  getAssets: UnaryHandler<GetAssetsRequest, { assets: Asset[] }>;
  getFeeRates: UnaryHandler<GetFeeRatesRequest, GetFeeRatesResponse>;
  requestWithdrawal: UnaryHandler<RequestWithdrawalRequest, RequestWithdrawalResponse>;
  listWithdrawals: UnaryHandler<ListWithdrawalsRequest, ListWithdrawalsResponse>;
  listDeposits: UnaryHandler<ListDepositsRequest, ListDepositsResponse>;
}

/**
 * The wallet service's own handlers called in the same process (one-process mode: `npm start`):
 * the same requests, answers and errors as `grpcWallet`, without protobuf encoding, HTTP/2 and a
 * second pass through the event loop per call. The deadline is kept: a call not answered within
 * `timeoutMs` fails as DEADLINE_EXCEEDED, as over the network.
 */
export function inProcessWallet(handlers: WalletHandlers, timeoutMs = 5_000): WalletPort {
  const call = <Req, Res>(handler: UnaryHandler<Req, Res>, request: Req) =>
    new Promise<Res>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new WalletCallError("DEADLINE_EXCEEDED", status.DEADLINE_EXCEEDED, "Deadline exceeded")),
        timeoutMs,
      );
      handler({ request, metadata: new Metadata() }, (error, value) => {
        clearTimeout(timer);
        if (!error) return resolve(value as Res);
        const e = error as Partial<ServiceError>;
        // A handler's error that is not a gRPC status reaches a remote client as UNKNOWN.
        if (typeof e.code !== "number") {
          return reject(new WalletCallError("UNKNOWN", status.UNKNOWN, String(e.message ?? error)));
        }
        reject(walletCallError(e as ServiceError));
      });
    });
  return walletPort({
    reserve: (request) => call(handlers.reserve, request),
    release: (request) => call(handlers.release, request),
    getBalances: (request) => call(handlers.getBalances, request),
    getAssets: (request) => call(handlers.getAssets, request),
    getFeeRates: (request) => call(handlers.getFeeRates, request),
    requestWithdrawal: (request) => call(handlers.requestWithdrawal, request),
    listWithdrawals: (request) => call(handlers.listWithdrawals, request),
    listDeposits: (request) => call(handlers.listDeposits, request),
    close() {},
  });
}

function walletPort(calls: WalletCalls): WalletPort {
  return {
    async reserve(accountId, asset, amount, orderId) {
      try {
        const r = await calls.reserve({ accountId, asset, amount, orderId: orderId.toString() });
        return r.balance;
      } catch (error) {
        if (error instanceof WalletCallError) {
          if (error.code === "INSUFFICIENT_BALANCE" || error.code === "UNKNOWN_ASSET")
            throw insufficientBalance();
          if (error.grpcCode === status.UNAVAILABLE || error.grpcCode === status.DEADLINE_EXCEEDED) {
            throw Object.assign(errors.disconnected(), { cause: error });
          }
        }
        throw error;
      }
    },
    async release(accountId, orderId, amount = 0n) {
      try {
        await calls.release({ accountId, orderId: orderId.toString(), amount });
      } catch (error) {
        if (error instanceof WalletCallError && error.code === "NOT_FOUND") return;
        throw error;
      }
    },
    async balances(accountId) {
      try {
        const r = await calls.getBalances({ accountId });
        return r.balances;
      } catch (error) {
        throw Object.assign(errors.disconnected(), { cause: error });
      }
    },
    async assets() {
      try {
        return (await calls.getAssets({})).assets;
      } catch (error) {
        throw Object.assign(errors.disconnected(), { cause: error });
      }
    },
    async feeRates(accountId, symbol = "", atTimeMs) {
      try {
        return await calls.getFeeRates({
          accountId,
          symbol,
          atTimeMs: atTimeMs === undefined ? undefined : BigInt(atTimeMs),
        });
      } catch (error) {
        throw Object.assign(errors.disconnected(), { cause: error });
      }
    },
    requestWithdrawal: (request) => unreachableAsDisconnected(calls.requestWithdrawal(request)),
    listWithdrawals: (request) => unreachableAsDisconnected(calls.listWithdrawals(request)),
    listDeposits: (request) => unreachableAsDisconnected(calls.listDeposits(request)),
    close: () => calls.close(),
  };
}

/**
 * An unreachable or slow wallet becomes -1001 (HTTP 503); the wallet's own refusals stay
 * WalletCallErrors for the caller to map. A timed-out RequestWithdrawal may still have been applied:
 * retrying with the same withdrawal id is safe (the wallet is idempotent by it).
 */
async function unreachableAsDisconnected<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (error) {
    if (
      error instanceof WalletCallError &&
      (error.grpcCode === status.UNAVAILABLE || error.grpcCode === status.DEADLINE_EXCEEDED)
    ) {
      throw Object.assign(errors.disconnected(), { cause: error });
    }
    throw error;
  }
}

export interface EngineOrdersPort {
  /** The engine's live state of an order; undefined when the engine does not hold it. */
  getOrder(symbol: string, orderId: bigint, accountId: string): Promise<OrderState | undefined>;
  close(): void;
}

export function grpcEngineOrders(target: string | MatchingEngineClient, timeoutMs = 2_000): EngineOrdersPort {
  const owned = typeof target === "string";
  const client =
    typeof target === "string" ? new MatchingEngineClient(target, credentials.createInsecure()) : target;
  return {
    getOrder: (symbol, orderId, accountId) =>
      new Promise((resolve, reject) =>
        client.getOrder(
          { symbol, orderId, accountId, clientOrderId: "" },
          new Metadata(),
          { deadline: new Date(Date.now() + timeoutMs) },
          (error, value) => {
            if (!error) return resolve(value.order);
            if (error.code === status.NOT_FOUND) return resolve(undefined);
            reject(error);
          },
        ),
      ),
    close() {
      if (owned) client.close();
    },
  };
}
