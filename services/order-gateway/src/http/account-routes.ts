/**
 * Native /v1 user endpoints for what Binance has no shape for: the linked Ethereum wallet (spec R-24,
 * SIWE / EIP-4361) and the KYC status. They are SIGNED exactly like /api/v3 (X-MBX-APIKEY, HMAC over
 * query ‖ x-www-form-urlencoded body, timestamp/recvWindow: `authenticate` of signed.ts); the account is
 * the API key's. The wallet (excraft.v1.Wallet over gRPC) does the work and keeps the state.
 *
 *   POST   /v1/wallet/link/challenge  address                  → {message, nonce}        (withdraw)
 *   POST   /v1/wallet/link            message, walletSignature → {linkedAddress}         (withdraw)
 *   DELETE /v1/wallet/link                                     → {}                      (withdraw)
 *   GET    /v1/account/identity                                → {kycStatus, linkedAddress} (read)
 *
 * Linking decides where rewards go and which deposits are credited to the account, so changing it
 * needs the key's `withdraw` permission (a `trade`-only bot key cannot redirect them). The SIWE
 * signature travels as `walletSignature`: `signature` is the request's HMAC.
 *
 * Errors are `{code, msg}`: Binance's codes for the request itself (-2014/-2015/-1022/-1021/-1102/-1100)
 * and -5000..-5008 for the wallet's refusals (LINK_ERRORS below); a refused request changes nothing.
 */
import { errorDetailsOf } from "@excraft/platform";
import { KycStatus, WalletClient } from "@excraft/proto";
import { credentials, Metadata, type ServiceError, status } from "@grpc/grpc-js";
import type { FastifyPluginAsync, FastifyRequest } from "fastify";
import { BinanceError, errors } from "../errors.ts";
import type { ApiKeyStore, Permission } from "../keys/api-keys.ts";
import { required } from "./params.ts";
import { authenticate, type Params, registerFormBody } from "./signed.ts";

/** Permission needed to link / unlink (GET identity needs `read`). */
export const LINK_PERMISSION: Permission = "withdraw";

export const ADDRESS_PATTERN = "^0x[0-9a-fA-F]{40}$";
export const WALLET_SIGNATURE_PATTERN = "^0x[0-9a-fA-F]{130}$";
export const MAX_LINK_MESSAGE = 2_048;

export type KycStatusName = "NONE" | "PENDING" | "VERIFIED" | "REJECTED";

/** The wallet's identity RPCs as the routes see them; failures are BinanceErrors. */
export interface IdentityPort {
  createLinkChallenge(accountId: string, address: string): Promise<{ message: string; nonce: string }>;
  linkWallet(accountId: string, message: string, signature: string): Promise<string>;
  unlinkWallet(accountId: string): Promise<void>;
  getIdentity(accountId: string): Promise<{ kycStatus: KycStatusName; linkedAddress: string | null }>;
  close(): void;
}

/** ExCraft-specific error codes of the /v1 account routes (documented in the README and /docs). */
export const LINK_ERRORS = {
  notForm: () =>
    new BinanceError(
      400,
      -5000,
      "Parameters must be sent in the query string or an application/x-www-form-urlencoded body.",
    ),
  invalid: (param: string, detail: string) =>
    new BinanceError(400, -5001, `Invalid parameter '${param}': ${detail}.`),
  unknownChallenge: () =>
    new BinanceError(
      400,
      -5002,
      "Unknown link challenge; request a new one (POST /v1/wallet/link/challenge).",
    ),
  challengeUsed: (detail: string) =>
    new BinanceError(409, -5003, `Link challenge can no longer be used (${detail}); request a new one.`),
  alreadyLinked: () => new BinanceError(409, -5004, "Account already has a linked address; unlink it first."),
  addressTaken: () => new BinanceError(409, -5005, "Address is linked to another account."),
  foreignChallenge: () => new BinanceError(403, -5006, "Link challenge was issued to another account."),
  wrongSigner: () => new BinanceError(403, -5007, "Signature was not made by the address in the message."),
  notLinked: () => new BinanceError(409, -5008, "Account has no linked address."),
} as const;

type Rpc = "challenge" | "link" | "unlink" | "identity";

/** The wallet's field names → the request parameter names. */
const PARAM_OF: Record<string, string> = {
  address: "address",
  message: "message",
  signature: "walletSignature",
  account_id: "accountId",
};

/** A wallet gRPC failure (status + ErrorDetail{code, field, message}) → the route's `{code, msg}`. */
export function identityError(rpc: Rpc, error: ServiceError): BinanceError {
  const detail = errorDetailsOf(error.metadata)[0];
  const text = (detail?.message || error.details || "").replace(/\.$/, "");
  switch (detail?.code) {
    case "INVALID_ARGUMENT":
      return LINK_ERRORS.invalid(PARAM_OF[detail.field] ?? (detail.field || "request"), text);
    case "NOT_FOUND":
      return rpc === "unlink" ? LINK_ERRORS.notLinked() : LINK_ERRORS.unknownChallenge();
    case "FAILED_PRECONDITION":
      return detail.field === "account_id" ? LINK_ERRORS.alreadyLinked() : LINK_ERRORS.challengeUsed(text);
    case "ALREADY_EXISTS":
      return LINK_ERRORS.addressTaken();
    case "PERMISSION_DENIED":
      return detail.field === "signature" ? LINK_ERRORS.wrongSigner() : LINK_ERRORS.foreignChallenge();
  }
  if (error.code === status.UNAVAILABLE || error.code === status.DEADLINE_EXCEEDED) {
    return Object.assign(errors.disconnected(), { cause: error });
  }
  return Object.assign(errors.unknown(), { cause: error });
}

const KYC_NAMES: Record<number, KycStatusName> = {
  [KycStatus.NONE]: "NONE",
  [KycStatus.PENDING]: "PENDING",
  [KycStatus.VERIFIED]: "VERIFIED",
  [KycStatus.REJECTED]: "REJECTED",
};

export function grpcIdentity(target: string | WalletClient, timeoutMs = 5_000): IdentityPort {
  const owned = typeof target === "string";
  const client = typeof target === "string" ? new WalletClient(target, credentials.createInsecure()) : target;
  const call = <T>(
    rpc: Rpc,
    send: (md: Metadata, opts: { deadline: Date }, cb: (e: ServiceError | null, v: T) => void) => void,
  ) =>
    new Promise<T>((resolve, reject) =>
      send(new Metadata(), { deadline: new Date(Date.now() + timeoutMs) }, (error, value) =>
        error ? reject(identityError(rpc, error)) : resolve(value),
      ),
    );
  return {
    createLinkChallenge: (accountId, address) =>
      call("challenge", (md, o, cb) => client.createLinkChallenge({ accountId, address }, md, o, cb)),
    async linkWallet(accountId, message, signature) {
      const r = await call<{ address: string }>("link", (md, o, cb) =>
        client.linkWallet({ accountId, message, signature }, md, o, cb),
      );
      return r.address;
    },
    async unlinkWallet(accountId) {
      await call("unlink", (md, o, cb) => client.unlinkWallet({ accountId }, md, o, cb));
    },
    async getIdentity(accountId) {
      const r = await call<{ status: KycStatus; linkedAddress: string }>("identity", (md, o, cb) =>
        client.getKyc({ accountId }, md, o, cb),
      );
      return { kycStatus: KYC_NAMES[r.status] ?? "NONE", linkedAddress: r.linkedAddress || null };
    },
    close() {
      if (owned) client.close();
    },
  };
}

export interface AccountRoutesOptions {
  keys: ApiKeyStore;
  identity: IdentityPort;
  now: () => number;
}

function matching(params: Params, name: string, pattern: string): string {
  const v = required(params, name);
  if (!new RegExp(pattern).test(v)) throw errors.illegalChars(name, pattern);
  return v;
}

/** Mount under the /v1 prefix. */
export const accountRoutes: FastifyPluginAsync<AccountRoutesOptions> = async (app, o) => {
  registerFormBody(app);
  const signed = (request: FastifyRequest, permission: Permission) => {
    // A JSON (or other parsed) body would be silently ignored by the signature check: refuse it.
    if (request.body !== undefined && typeof request.body !== "string") throw LINK_ERRORS.notForm();
    return authenticate(request, permission, { keys: o.keys, now: o.now });
  };

  app.post("/wallet/link/challenge", async (request) => {
    const { key, params } = await signed(request, LINK_PERMISSION);
    const address = matching(params, "address", ADDRESS_PATTERN);
    return o.identity.createLinkChallenge(key.accountId, address);
  });

  app.post("/wallet/link", async (request) => {
    const { key, params } = await signed(request, LINK_PERMISSION);
    const message = required(params, "message");
    if (message.length > MAX_LINK_MESSAGE) {
      throw LINK_ERRORS.invalid("message", `longer than ${MAX_LINK_MESSAGE} characters`);
    }
    const signature = matching(params, "walletSignature", WALLET_SIGNATURE_PATTERN);
    return { linkedAddress: await o.identity.linkWallet(key.accountId, message, signature) };
  });

  app.delete("/wallet/link", async (request) => {
    const { key } = await signed(request, LINK_PERMISSION);
    await o.identity.unlinkWallet(key.accountId);
    return {};
  });

  app.get("/account/identity", async (request) => {
    const { key } = await signed(request, "read");
    return o.identity.getIdentity(key.accountId);
  });
};
