/**
 * The wallet (`excraft.v1.Wallet`) and the engine's order lookup (`MatchingEngine.GetOrder`) as the
 * order routes see them: promises, Binance errors for what a client can cause, and the wallet's
 * `ErrorDetail` code kept for the rest.
 */
import { errorDetailsOf } from "@excraft/platform";
import { type Balance, MatchingEngineClient, type OrderState, WalletClient } from "@excraft/proto";
import { credentials, Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { BinanceError, errors } from "../errors.ts";

export class WalletCallError extends Error {
  constructor(
    readonly code: string,
    readonly grpcCode: number,
    message: string,
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
  close(): void;
}

function unary<T>(
  timeoutMs: number,
  send: (md: Metadata, opts: { deadline: Date }, cb: (e: ServiceError | null, v: T) => void) => void,
): Promise<T> {
  return new Promise((resolve, reject) =>
    send(new Metadata(), { deadline: new Date(Date.now() + timeoutMs) }, (error, value) => {
      if (!error) return resolve(value);
      const detail = errorDetailsOf(error.metadata)[0];
      reject(new WalletCallError(detail?.code ?? status[error.code] ?? "UNKNOWN", error.code, error.message));
    }),
  );
}

export function grpcWallet(target: string | WalletClient, timeoutMs = 5_000): WalletPort {
  const owned = typeof target === "string";
  const client = typeof target === "string" ? new WalletClient(target, credentials.createInsecure()) : target;
  return {
    async reserve(accountId, asset, amount, orderId) {
      try {
        const r = await unary<{ balance?: Balance }>(timeoutMs, (md, o, cb) =>
          client.reserve({ accountId, asset, amount, orderId: orderId.toString() }, md, o, cb),
        );
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
        await unary(timeoutMs, (md, o, cb) =>
          client.release({ accountId, orderId: orderId.toString(), amount }, md, o, cb),
        );
      } catch (error) {
        if (error instanceof WalletCallError && error.code === "NOT_FOUND") return;
        throw error;
      }
    },
    async balances(accountId) {
      try {
        const r = await unary<{ balances: Balance[] }>(timeoutMs, (md, o, cb) =>
          client.getBalances({ accountId }, md, o, cb),
        );
        return r.balances;
      } catch (error) {
        throw Object.assign(errors.disconnected(), { cause: error });
      }
    },
    close() {
      if (owned) client.close();
    },
  };
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
