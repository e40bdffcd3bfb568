import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { withTransaction } from "@excraft/platform";
import { getAddress, isAddress, verifyMessage } from "ethers";
import type pg from "pg";
import { invalid, WalletError } from "./errors";
import { checkAccount } from "./ledger";

export type KycState = "none" | "pending" | "verified" | "rejected";
export const KYC_STATES: readonly KycState[] = ["none", "pending", "verified", "rejected"];

export interface SiweConfig {
  /** RFC 3986 authority that asks for the signature, e.g. "excraft.example". */
  domain: string;
  /** URI of the sign-in page. */
  uri: string;
  chainId: number;
  /** How long a challenge stays valid, in ms (default 10 minutes). */
  ttlMs?: number;
  statement?: string;
}

/** The fields of an EIP-4361 message this service issues and checks. */
export interface SiweMessage {
  domain: string;
  address: string;
  statement: string;
  uri: string;
  version: string;
  chainId: number;
  nonce: string;
  issuedAt: string;
  expirationTime: string;
}

/** Renders an EIP-4361 (Sign-In with Ethereum) message. */
export function formatSiweMessage(m: SiweMessage): string {
  return [
    `${m.domain} wants you to sign in with your Ethereum account:`,
    m.address,
    "",
    m.statement,
    "",
    `URI: ${m.uri}`,
    `Version: ${m.version}`,
    `Chain ID: ${m.chainId}`,
    `Nonce: ${m.nonce}`,
    `Issued At: ${m.issuedAt}`,
    `Expiration Time: ${m.expirationTime}`,
  ].join("\n");
}

const SIWE_RE =
  /^(?<domain>[^\s]+) wants you to sign in with your Ethereum account:\n(?<address>0x[0-9a-fA-F]{40})\n\n(?:(?<statement>[^\n]*)\n\n)?URI: (?<uri>[^\n]+)\nVersion: (?<version>1)\nChain ID: (?<chainId>\d+)\nNonce: (?<nonce>[A-Za-z0-9]{8,})\nIssued At: (?<issuedAt>[^\n]+)(?:\nExpiration Time: (?<expirationTime>[^\n]+))?$/;

/** Parses an EIP-4361 message (the subset with the fields above); throws INVALID_ARGUMENT when malformed. */
export function parseSiweMessage(text: string): SiweMessage {
  const m = SIWE_RE.exec(text);
  if (!m?.groups) throw invalid("message", "message is not a valid EIP-4361 (Sign-In with Ethereum) message");
  const g = m.groups;
  const address = g.address!;
  if (getAddress(address.toLowerCase()) !== address) {
    throw invalid("message", "address in the message must be EIP-55 checksummed");
  }
  return {
    domain: g.domain!,
    address,
    statement: g.statement ?? "",
    uri: g.uri!,
    version: g.version!,
    chainId: Number(g.chainId),
    nonce: g.nonce!,
    issuedAt: g.issuedAt!,
    expirationTime: g.expirationTime ?? "",
  };
}

/**
 * Linked external wallets and KYC status. Linking proves ownership of an Ethereum address by
 * a signed EIP-4361 message carrying a server nonce; each nonce works once; one active address per
 * account and one account per address; unlinking is recorded (the row keeps `unlinked_at`).
 */
export class Identity {
  constructor(
    private readonly pool: pg.Pool,
    private readonly siwe: SiweConfig,
    private readonly now: () => number = Date.now,
  ) {}

  async createLinkChallenge(accountId: string, address: string): Promise<{ message: string; nonce: string }> {
    checkAccount(accountId);
    if (!isAddress(address)) throw invalid("address", `not an Ethereum address: ${JSON.stringify(address)}`);
    const checksummed = getAddress(address.toLowerCase());
    const nonce = randomBytes(16).toString("hex");
    const issued = this.now();
    const expires = issued + (this.siwe.ttlMs ?? 10 * 60_000);
    const message = formatSiweMessage({
      domain: this.siwe.domain,
      address: checksummed,
      statement: this.siwe.statement ?? `Link this address to ExCraft account ${accountId}.`,
      uri: this.siwe.uri,
      version: "1",
      chainId: this.siwe.chainId,
      nonce,
      issuedAt: new Date(issued).toISOString(),
      expirationTime: new Date(expires).toISOString(),
    });
    await this.pool.query(
      "insert into link_challenges (nonce, account_id, address, message, expires_at) values ($1, $2, $3, $4, $5)",
      [nonce, accountId, checksummed, message, new Date(expires)],
    );
    return { message, nonce };
  }

  async linkWallet(accountId: string, message: string, signature: string): Promise<string> {
    checkAccount(accountId);
    const parsed = parseSiweMessage(message);
    if (
      parsed.domain !== this.siwe.domain ||
      parsed.uri !== this.siwe.uri ||
      parsed.chainId !== this.siwe.chainId
    ) {
      throw invalid("message", "message was issued for another domain, URI or chain");
    }
    if (!/^0x[0-9a-fA-F]{130}$/.test(signature))
      throw invalid("signature", "signature must be 65 bytes of hex");
    let recovered: string;
    try {
      recovered = verifyMessage(message, signature);
    } catch {
      throw invalid("signature", "signature cannot be recovered");
    }
    return withTransaction(this.pool, async (client) => {
      const c = await client.query("select * from link_challenges where nonce = $1 for update", [
        parsed.nonce,
      ]);
      const challenge = c.rows[0];
      if (!challenge)
        throw new WalletError("NOT_FOUND", "unknown nonce: request a challenge first", "message");
      if (challenge.used_at)
        throw new WalletError("FAILED_PRECONDITION", "nonce already used (replay)", "message");
      if (challenge.account_id !== accountId) {
        throw new WalletError("PERMISSION_DENIED", "challenge was issued to another account", "account_id");
      }
      if (challenge.message !== message)
        throw invalid("message", "message differs from the issued challenge");
      if (new Date(challenge.expires_at).getTime() < this.now()) {
        throw new WalletError("FAILED_PRECONDITION", "challenge expired", "message");
      }
      if (recovered !== parsed.address) {
        throw new WalletError(
          "PERMISSION_DENIED",
          "signature was not made by the address in the message",
          "signature",
        );
      }
      const mine = await client.query(
        "select address from wallet_links where account_id = $1 and unlinked_at is null",
        [accountId],
      );
      if (mine.rows[0]) {
        throw new WalletError(
          "FAILED_PRECONDITION",
          `account already has linked address ${mine.rows[0].address}; unlink it first`,
          "account_id",
        );
      }
      const theirs = await client.query(
        "select account_id from wallet_links where lower(address) = lower($1) and unlinked_at is null",
        [parsed.address],
      );
      if (theirs.rows[0]) {
        throw new WalletError("ALREADY_EXISTS", "address is linked to another account", "message");
      }
      await client.query("update link_challenges set used_at = now() where nonce = $1", [parsed.nonce]);
      await client.query(
        "insert into wallet_links (account_id, address, nonce, signature) values ($1, $2, $3, $4)",
        [accountId, parsed.address, parsed.nonce, signature],
      );
      return parsed.address;
    });
  }

  async unlinkWallet(accountId: string): Promise<void> {
    checkAccount(accountId);
    const r = await this.pool.query(
      "update wallet_links set unlinked_at = now() where account_id = $1 and unlinked_at is null",
      [accountId],
    );
    if (r.rowCount === 0) throw new WalletError("NOT_FOUND", "account has no linked address", "account_id");
  }

  async linkedAddress(accountId: string): Promise<string> {
    checkAccount(accountId);
    const r = await this.pool.query(
      "select address from wallet_links where account_id = $1 and unlinked_at is null",
      [accountId],
    );
    return r.rows[0]?.address ?? "";
  }

  async linkHistory(
    accountId: string,
  ): Promise<{ address: string; linkedAt: Date; unlinkedAt: Date | null }[]> {
    const r = await this.pool.query(
      "select address, linked_at, unlinked_at from wallet_links where account_id = $1 order by id",
      [accountId],
    );
    return r.rows.map((x) => ({ address: x.address, linkedAt: x.linked_at, unlinkedAt: x.unlinked_at }));
  }

  async getKyc(accountId: string): Promise<KycState> {
    checkAccount(accountId);
    const r = await this.pool.query("select status from kyc where account_id = $1", [accountId]);
    return (r.rows[0]?.status as KycState | undefined) ?? "none";
  }

  async setKyc(accountId: string, status: KycState, reason: string, actor: string): Promise<void> {
    checkAccount(accountId);
    if (!KYC_STATES.includes(status)) throw invalid("status", `unknown KYC status ${JSON.stringify(status)}`);
    if (!actor.trim()) throw invalid("actor", "actor is required");
    await withTransaction(this.pool, async (client) => {
      await client.query(
        `insert into kyc (account_id, status, updated_at) values ($1, $2, now())
         on conflict (account_id) do update set status = excluded.status, updated_at = now()`,
        [accountId, status],
      );
      await client.query(
        "insert into kyc_history (account_id, status, reason, actor) values ($1, $2, $3, $4)",
        [accountId, status, reason, actor],
      );
    });
  }

  /** Accounts that are KYC-verified AND have a linked address: the members pools and the DAO count. */
  async verifiedMembers(): Promise<{ accountId: string; address: string }[]> {
    const r = await this.pool.query(
      `select k.account_id, l.address from kyc k
       join wallet_links l on l.account_id = k.account_id and l.unlinked_at is null
       where k.status = 'verified' order by k.account_id`,
    );
    return r.rows.map((x) => ({ accountId: x.account_id, address: x.address }));
  }
}

/**
 * The KYC provider webhook port: the provider POSTs JSON `{ "account_id", "status", "reason" }` with
 * header `x-kyc-signature: sha256=<hex HMAC-SHA256 of the raw body with the shared secret>`.
 * A bad signature or payload changes nothing.
 */
export async function handleKycWebhook(
  identity: Identity,
  secret: string,
  rawBody: Buffer,
  signatureHeader: string | undefined,
): Promise<{ accountId: string; status: KycState }> {
  const expected = createHmac("sha256", secret).update(rawBody).digest();
  const given = /^sha256=([0-9a-f]{64})$/.exec(signatureHeader ?? "")?.[1];
  if (!given || !timingSafeEqual(Buffer.from(given, "hex"), expected)) {
    throw new WalletError("PERMISSION_DENIED", "bad webhook signature");
  }
  let payload: { account_id?: unknown; status?: unknown; reason?: unknown };
  try {
    payload = JSON.parse(rawBody.toString("utf8"));
  } catch {
    throw invalid("body", "body is not JSON");
  }
  const accountId = typeof payload.account_id === "string" ? payload.account_id : "";
  const status = payload.status as KycState;
  if (!KYC_STATES.includes(status) || status === "none")
    throw invalid("status", "status must be pending, verified or rejected");
  await identity.setKyc(
    accountId,
    status,
    typeof payload.reason === "string" ? payload.reason : "",
    "kyc-provider",
  );
  return { accountId, status };
}

export function signKycWebhook(secret: string, rawBody: Buffer): string {
  return `sha256=${createHmac("sha256", secret).update(rawBody).digest("hex")}`;
}
