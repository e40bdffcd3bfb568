/**
 * SIGNED (TRADE / USER_DATA) request authentication, as Binance Spot v3 does it:
 *  - `X-MBX-APIKEY` header (missing or malformed → -2014; unknown, revoked, IP not allowed or
 *    permission missing → -2015),
 *  - `signature` = hex HMAC-SHA256(secret, totalParams), totalParams = query string + request body
 *    (x-www-form-urlencoded), without the `signature` parameter itself (bad → -1022),
 *  - `timestamp` (ms) and `recvWindow` (default 5000, at most 60000): accepted when
 *    timestamp < serverTime + 1000 and serverTime − timestamp ≤ recvWindow (else -1021).
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { BinanceError, errors, INTEGER_PATTERN } from "../errors.ts";
import {
  API_KEY_PATTERN,
  type ApiKey,
  type ApiKeyStore,
  canonicalIp,
  type Permission,
  signatureMatches,
} from "../keys/api-keys.ts";

export type Params = Map<string, string>;

export interface Authenticated {
  key: ApiKey;
  params: Params;
}

export const signatureInvalid = () =>
  new BinanceError(400, -1022, "Signature for this request is not valid.");
export const apiKeyFormatInvalid = () => new BinanceError(401, -2014, "API-key format invalid.");
export const apiKeyRejected = () =>
  new BinanceError(401, -2015, "Invalid API-key, IP, or permissions for action.");
export const outsideRecvWindow = () =>
  new BinanceError(400, -1021, "Timestamp for this request is outside of the recvWindow.");
export const badRecvWindow = () => new BinanceError(400, -1131, "recvWindow must be less than 60000.");

/** Keeps x-www-form-urlencoded bodies as raw text: the signature covers the exact bytes. */
export function registerFormBody(app: FastifyInstance): void {
  app.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string" }, (_req, body, done) =>
    done(null, body),
  );
}

/** Removes `signature=…` from a raw parameter string; returns the rest and the signature (if present). */
function splitSignature(raw: string): { rest: string; signature: string | undefined } {
  if (raw === "") return { rest: raw, signature: undefined };
  const parts = raw.split("&");
  let signature: string | undefined;
  const rest: string[] = [];
  for (const part of parts) {
    if (part.startsWith("signature=")) {
      try {
        signature = decodeURIComponent(part.slice(10));
      } catch {
        throw signatureInvalid();
      }
    } else rest.push(part);
  }
  return { rest: rest.join("&"), signature };
}

function parseInto(params: Params, raw: string): void {
  for (const [k, v] of new URLSearchParams(raw)) {
    if (params.has(k)) throw errors.duplicateParam();
    params.set(k, v);
  }
}

export interface SignedOptions {
  keys: ApiKeyStore;
  now: () => number;
  /**
   * The refusal when the key lacks the permission (default -2015). Binance's withdraw endpoint answers
   * a key without withdrawals enabled with -1002 instead.
   */
  permissionDenied?: () => BinanceError;
}

export async function authenticate(
  request: FastifyRequest,
  permission: Permission,
  options: SignedOptions,
): Promise<Authenticated> {
  const header = request.headers["x-mbx-apikey"];
  const apiKey = Array.isArray(header) ? header[0] : header;
  const q = request.url.indexOf("?");
  const query = splitSignature(q >= 0 ? request.url.slice(q + 1) : "");
  const body = splitSignature(typeof request.body === "string" ? request.body : "");
  if (query.signature !== undefined && body.signature !== undefined) throw errors.duplicateParam();
  const params: Params = new Map();
  // The key is checked before the parameters (as Binance: -2014/-2015 win over malformed input).
  const key = await activeKey(apiKey, request.ip, options);
  parseInto(params, query.rest);
  parseInto(params, body.rest);
  return verify(key, params, query.rest + body.rest, query.signature ?? body.signature, permission, options);
}

/** The active key for an X-MBX-APIKEY value: -2014 malformed, -2015 unknown/revoked/IP not allowed. */
export async function activeKey(
  apiKey: string | undefined,
  ip: string,
  { keys }: SignedOptions,
): Promise<ApiKey & { secret: string }> {
  if (apiKey === undefined || !API_KEY_PATTERN.test(apiKey)) throw apiKeyFormatInvalid();
  const key = await keys.lookup(apiKey);
  if (key === null) throw apiKeyRejected();
  if (key.ipAllowList.length > 0 && !key.ipAllowList.map(canonicalIp).includes(canonicalIp(ip))) {
    throw apiKeyRejected();
  }
  return key;
}

/** timestamp / recvWindow / HMAC / permission checks shared by REST and the WebSocket API. */
export function verify(
  key: ApiKey & { secret: string },
  params: Params,
  payload: string,
  signature: string | undefined,
  permission: Permission,
  { now, permissionDenied = apiKeyRejected }: SignedOptions,
): Authenticated {
  if (signature === undefined || signature === "") throw errors.mandatory("signature");
  const timestampText = params.get("timestamp");
  if (timestampText === undefined || timestampText === "") throw errors.mandatory("timestamp");
  if (!/^[0-9]{1,20}$/.test(timestampText)) throw errors.illegalChars("timestamp", INTEGER_PATTERN);
  const recvText = params.get("recvWindow");
  let recvWindow = 5_000;
  if (recvText !== undefined) {
    if (!/^[0-9]{1,20}(\.[0-9]{1,3})?$/.test(recvText)) {
      throw errors.illegalChars("recvWindow", "^[0-9]{1,20}(\\.[0-9]{1,3})?$");
    }
    recvWindow = Number(recvText);
    if (recvWindow > 60_000) throw badRecvWindow();
  }
  const timestamp = Number(timestampText);
  const serverTime = now();
  if (!(timestamp < serverTime + 1_000 && serverTime - timestamp <= recvWindow)) throw outsideRecvWindow();
  if (!signatureMatches(key.secret, payload, signature)) throw signatureInvalid();
  if (!key.permissions.includes(permission)) throw permissionDenied();
  const { secret: _secret, ...publicKey } = key;
  return { key: publicKey, params };
}
