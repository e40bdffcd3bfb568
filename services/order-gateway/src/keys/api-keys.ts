/**
 * API keys: Binance-style 64-character key + secret, bound to one account, with permissions
 * (read, trade, withdraw) and an optional IP allow-list. The secret is stored encrypted with
 * AES-256-GCM under a master key from configuration (the API key is the additional authenticated
 * data, so a ciphertext cannot be moved to another key row); it is returned once, at creation, and
 * never logged. Lookups are cached for `cacheMs` (revocation on this instance is immediate, on
 * other replicas within `cacheMs`).
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type pg from "pg";

export const PERMISSIONS = ["read", "trade", "withdraw"] as const;
export type Permission = (typeof PERMISSIONS)[number];

export interface ApiKey {
  apiKey: string;
  accountId: string;
  label: string;
  permissions: Permission[];
  /** Empty = any IP. */
  ipAllowList: string[];
  createdAt: number;
  revokedAt: number | null;
}

export interface ApiKeyWithSecret extends ApiKey {
  secret: string;
}

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
export const API_KEY_PATTERN = /^[A-Za-z0-9]{64}$/;

export function randomToken(length: number): string {
  const bytes = randomBytes(length * 2);
  let out = "";
  for (let i = 0; out.length < length && i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b < 248) out += ALPHABET[b % 62]; // 248 = 4·62: unbiased
  }
  return out.length === length ? out : randomToken(length);
}

/** Parses a 32-byte master key given as 64 hex characters or base64. */
export function parseMasterKey(text: string): Buffer {
  const key = /^[0-9a-fA-F]{64}$/.test(text) ? Buffer.from(text, "hex") : Buffer.from(text, "base64");
  if (key.length !== 32) throw new Error("the API-key master key must be 32 bytes (64 hex chars or base64)");
  return key;
}

/** AES-256-GCM: iv (12) ‖ tag (16) ‖ ciphertext, bound to `aad`. */
export function encryptSecret(masterKey: Buffer, secret: string, aad: string): Buffer {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", masterKey, iv);
  cipher.setAAD(Buffer.from(aad));
  const body = Buffer.concat([cipher.update(secret, "utf8"), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]);
}

export function decryptSecret(masterKey: Buffer, sealed: Buffer, aad: string): string {
  const decipher = createDecipheriv("aes-256-gcm", masterKey, sealed.subarray(0, 12));
  decipher.setAAD(Buffer.from(aad));
  decipher.setAuthTag(sealed.subarray(12, 28));
  return Buffer.concat([decipher.update(sealed.subarray(28)), decipher.final()]).toString("utf8");
}

/** Binance HMAC-SHA256 signature (lower-case hex) of the signed payload. */
export function sign(secret: string, payload: string): string {
  return createHmac("sha256", secret).update(payload).digest("hex");
}

/** Constant-time check of a hex signature (case-insensitive). */
export function signatureMatches(secret: string, payload: string, signature: string): boolean {
  const expected = Buffer.from(sign(secret, payload), "utf8");
  const given = Buffer.from(signature.toLowerCase(), "utf8");
  return expected.length === given.length && timingSafeEqual(expected, given);
}

interface Row {
  api_key: string;
  account_id: string;
  label: string;
  secret_enc: Buffer;
  permissions: string[];
  ip_allow: string[];
  created_ms: string;
  revoked_ms: string | null;
}

const toKey = (r: Row): ApiKey => ({
  apiKey: r.api_key,
  accountId: r.account_id,
  label: r.label,
  permissions: r.permissions as Permission[],
  ipAllowList: r.ip_allow,
  createdAt: Number(r.created_ms),
  revokedAt: r.revoked_ms === null ? null : Number(r.revoked_ms),
});

/** A key with the `withdraw` permission must name the IPs it may be used from. */
export class WithdrawKeyNeedsIpsError extends Error {
  constructor() {
    super("a key with the withdraw permission needs an IP allow-list (withdrawals only from trusted IPs)");
  }
}

/** IPv4 clients of a dual-stack listener show up as ::ffff:a.b.c.d: compare the IPv4 form. */
export function canonicalIp(ip: string): string {
  return ip.startsWith("::ffff:") && ip.includes(".") ? ip.slice(7) : ip;
}

export class ApiKeyStore {
  private readonly cache = new Map<string, { value: (ApiKey & { secret: string }) | null; until: number }>();

  constructor(
    private readonly pool: pg.Pool,
    private readonly masterKey: Buffer,
    private readonly cacheMs = 5_000,
    private readonly now: () => number = Date.now,
  ) {}

  async create(input: {
    accountId: string;
    label?: string;
    permissions: Permission[];
    ipAllowList?: string[];
  }): Promise<ApiKeyWithSecret> {
    // As Binance: withdrawals only from trusted IPs — a leaked withdraw key is otherwise usable anywhere.
    if (input.permissions.includes("withdraw") && (input.ipAllowList ?? []).length === 0) {
      throw new WithdrawKeyNeedsIpsError();
    }
    const apiKey = randomToken(64);
    const secret = randomToken(64);
    const createdAt = this.now();
    const permissions = PERMISSIONS.filter((p) => input.permissions.includes(p));
    await this.pool.query(
      `insert into api_keys (api_key, account_id, label, secret_enc, permissions, ip_allow, created_ms)
       values ($1, $2, $3, $4, $5, $6, $7)`,
      [
        apiKey,
        input.accountId,
        input.label ?? "",
        encryptSecret(this.masterKey, secret, apiKey),
        permissions,
        input.ipAllowList ?? [],
        createdAt,
      ],
    );
    return {
      apiKey,
      secret,
      accountId: input.accountId,
      label: input.label ?? "",
      permissions,
      ipAllowList: input.ipAllowList ?? [],
      createdAt,
      revokedAt: null,
    };
  }

  /**
   * Stores a key whose key and secret were chosen outside (e.g. a demo account's key from the
   * environment). Idempotent for the same key and account; refuses a key held by another account.
   */
  async importKey(input: {
    apiKey: string;
    secret: string;
    accountId: string;
    label?: string;
    permissions: Permission[];
  }): Promise<void> {
    if (!API_KEY_PATTERN.test(input.apiKey)) throw new Error("API key must be 64 letters or digits");
    if (!API_KEY_PATTERN.test(input.secret)) throw new Error("API secret must be 64 letters or digits");
    const permissions = PERMISSIONS.filter((p) => input.permissions.includes(p));
    await this.pool.query(
      `insert into api_keys (api_key, account_id, label, secret_enc, permissions, ip_allow, created_ms)
       values ($1, $2, $3, $4, $5, '{}', $6) on conflict (api_key) do nothing`,
      [
        input.apiKey,
        input.accountId,
        input.label ?? "",
        encryptSecret(this.masterKey, input.secret, input.apiKey),
        permissions,
        this.now(),
      ],
    );
    const stored = await this.lookup(input.apiKey);
    if (stored?.accountId !== input.accountId || stored.secret !== input.secret) {
      throw new Error(`API key ${input.apiKey.slice(0, 8)}… already exists with another account or secret`);
    }
  }

  async list(accountId: string): Promise<ApiKey[]> {
    const { rows } = await this.pool.query<Row>(
      "select * from api_keys where account_id = $1 order by created_ms, api_key",
      [accountId],
    );
    return rows.map(toKey);
  }

  /** Revokes the key of `accountId`; false when there is no such active key. */
  async revoke(accountId: string, apiKey: string): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      "update api_keys set revoked_ms = $3 where api_key = $1 and account_id = $2 and revoked_ms is null",
      [apiKey, accountId, this.now()],
    );
    this.cache.delete(apiKey);
    return (rowCount ?? 0) > 0;
  }

  /** The active key with its decrypted secret, or null (unknown or revoked). */
  async lookup(apiKey: string): Promise<(ApiKey & { secret: string }) | null> {
    const t = this.now();
    const hit = this.cache.get(apiKey);
    if (hit && hit.until > t) return hit.value;
    const { rows } = await this.pool.query<Row>(
      "select * from api_keys where api_key = $1 and revoked_ms is null",
      [apiKey],
    );
    const row = rows[0];
    const value = row
      ? { ...toKey(row), secret: decryptSecret(this.masterKey, row.secret_enc, apiKey) }
      : null;
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(apiKey, { value, until: t + this.cacheMs });
    return value;
  }
}
