/**
 * Native /v1 linked wallet and identity endpoints end to end: the real wallet over gRPC (SIWE
 * challenges, links and KYC in its PostgreSQL), the gateway over HTTP, requests signed with the
 * account's API key exactly as /api/v3, and EIP-4361 messages signed by ethers wallets. Every refused
 * request answers its documented `{code, msg}` and leaves the wallet's tables as they were.
 */
import { KycStatus } from "@excraft/proto";
import { Wallet } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sign } from "../src/index.ts";
import {
  createKey,
  type GatewayInstance,
  type Key,
  type OrderExchange,
  startGateway,
  startOrderExchange,
  walletCall,
} from "./support/order-harness.ts";

interface CallOptions {
  /** Replaces the computed HMAC; null = no signature parameter. */
  signature?: string | null;
  /** Replaces the X-MBX-APIKEY header; null = no header. */
  apiKey?: string | null;
  /** Sends the params as a JSON body instead (not supported by the routes). */
  json?: boolean;
}

/** A signed client of the /v1 routes: POST params in a form body, GET/DELETE in the query string. */
function v1(url: string, key: Key) {
  return async (
    method: "GET" | "POST" | "DELETE",
    path: string,
    params: Record<string, string> = {},
    opts: CallOptions = {},
  ) => {
    const text = new URLSearchParams({ ...params, timestamp: String(Date.now()) }).toString();
    const signature = opts.signature === undefined ? sign(key.secretKey, text) : opts.signature;
    const full = signature === null ? text : `${text}&signature=${signature}`;
    const apiKey = opts.apiKey === undefined ? key.apiKey : opts.apiKey;
    const headers: Record<string, string> = apiKey === null ? {} : { "X-MBX-APIKEY": apiKey };
    let body: string | undefined;
    let target = `${url}/v1${path}`;
    if (opts.json) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(Object.fromEntries(new URLSearchParams(full)));
    } else if (method === "POST") {
      headers["content-type"] = "application/x-www-form-urlencoded";
      body = full;
    } else target += `?${full}`;
    const response = await fetch(target, { method, headers, body });
    const raw = await response.text();
    return { status: response.status, body: raw === "" ? undefined : JSON.parse(raw) };
  };
}

type Client = ReturnType<typeof v1>;

describe("/v1 linked wallet and identity through the real wallet", () => {
  let oe: OrderExchange;
  let gw: GatewayInstance;
  let A: Client; // alice: read, trade, withdraw
  let ATrade: Client; // alice: read, trade
  let ARead: Client; // alice: read
  let B: Client; // bob: read, withdraw
  const aliceEth = Wallet.createRandom();
  const bobEth = Wallet.createRandom();
  const otherEth = Wallet.createRandom();
  let bobChallenge: { message: string; nonce: string };

  /** The wallet's own rows: what a refused request must not change. */
  const walletState = async () => {
    const challenges = await oe.wallet.pool.query(
      "select nonce, account_id, address, used_at is not null as used from link_challenges order by nonce",
    );
    const links = await oe.wallet.pool.query(
      "select account_id, address, unlinked_at is not null as unlinked from wallet_links order by id",
    );
    const kyc = await oe.wallet.pool.query("select account_id, status from kyc order by account_id");
    return { challenges: challenges.rows, links: links.rows, kyc: kyc.rows };
  };

  const identity = async (call: Client) => {
    const r = await call("GET", "/account/identity");
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body;
  };

  const challenge = async (call: Client, address: string) => {
    const r = await call("POST", "/wallet/link/challenge", { address });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body as { message: string; nonce: string };
  };

  const setKyc = (accountId: string, status: KycStatus) =>
    walletCall(oe.walletClient, "setKyc", { accountId, status, reason: "test review" });

  beforeAll(async () => {
    oe = await startOrderExchange();
    gw = await startGateway(oe);
    A = v1(gw.url, await createKey(gw.url, "alice", ["read", "trade", "withdraw"]));
    ATrade = v1(gw.url, await createKey(gw.url, "alice", ["read", "trade"]));
    ARead = v1(gw.url, await createKey(gw.url, "alice", ["read"]));
    B = v1(gw.url, await createKey(gw.url, "bob", ["read", "withdraw"]));
    await walletCall(oe.walletClient, "operatorAdjust", {
      adjustmentId: "fund-alice-usdt",
      accountId: "alice",
      asset: "USDT",
      amount: 1_000_000_000n,
      reason: "test funding",
      operator: "test",
    });
  }, 120_000);

  afterAll(async () => {
    await gw?.stop();
    await oe?.stop();
  });

  it("documents the routes in /docs", async () => {
    const docs = (await (await fetch(`${gw.url}/docs`)).json()) as {
      paths: Record<string, Record<string, { security?: unknown; responses: Record<string, unknown> }>>;
    };
    expect(Object.keys(docs.paths)).toEqual(
      expect.arrayContaining(["/v1/wallet/link/challenge", "/v1/wallet/link", "/v1/account/identity"]),
    );
    expect(Object.keys(docs.paths["/v1/wallet/link"]!).sort()).toEqual(["delete", "post"]);
    expect(docs.paths["/v1/wallet/link"]!.post!.security).toEqual([{ apiKey: [] }]);
    expect(JSON.stringify(docs.paths["/v1/wallet/link"]!.post!.responses)).toContain("-5007");
  });

  it("a funded account starts with KYC NONE and no linked address", async () => {
    expect(await identity(A)).toEqual({ kycStatus: "NONE", linkedAddress: null });
    expect(await identity(ARead)).toEqual({ kycStatus: "NONE", linkedAddress: null });
  });

  it("refuses unsigned, badly signed, under-permitted and malformed requests; nothing changes", async () => {
    const before = await walletState();
    const address = aliceEth.address;
    const cases: [Promise<{ status: number; body: unknown }>, number, number, string][] = [
      [
        A("POST", "/wallet/link/challenge", { address }, { apiKey: null }),
        401,
        -2014,
        "API-key format invalid.",
      ],
      [
        A("POST", "/wallet/link/challenge", { address }, { signature: null }),
        400,
        -1102,
        "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.",
      ],
      [
        A("POST", "/wallet/link/challenge", { address }, { signature: "ab".repeat(32) }),
        400,
        -1022,
        "Signature for this request is not valid.",
      ],
      [
        A("GET", "/account/identity", {}, { signature: null }),
        400,
        -1102,
        "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.",
      ],
      [
        ATrade("POST", "/wallet/link/challenge", { address }),
        401,
        -2015,
        "Invalid API-key, IP, or permissions for action.",
      ],
      [ARead("DELETE", "/wallet/link"), 401, -2015, "Invalid API-key, IP, or permissions for action."],
      [
        A("POST", "/wallet/link/challenge"),
        400,
        -1102,
        "Mandatory parameter 'address' was not sent, was empty/null, or malformed.",
      ],
      [
        A("POST", "/wallet/link/challenge", { address: "0x1234" }),
        400,
        -1100,
        "Illegal characters found in parameter 'address'; legal range is '^0x[0-9a-fA-F]{40}$'.",
      ],
      [
        A("POST", "/wallet/link/challenge", { address: `0x${"g".repeat(40)}` }),
        400,
        -1100,
        "Illegal characters found in parameter 'address'; legal range is '^0x[0-9a-fA-F]{40}$'.",
      ],
      [
        // EIP-55's example address with one letter's case flipped: bad checksum (the wallet's check)
        A("POST", "/wallet/link/challenge", { address: "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD" }),
        400,
        -5001,
        "Invalid parameter 'address': not an Ethereum address",
      ],
      [
        A("POST", "/wallet/link/challenge", { address }, { json: true }),
        400,
        -5000,
        "Parameters must be sent in the query string or an application/x-www-form-urlencoded body.",
      ],
      [
        A("POST", "/wallet/link", { walletSignature: `0x${"11".repeat(65)}` }),
        400,
        -1102,
        "Mandatory parameter 'message' was not sent, was empty/null, or malformed.",
      ],
      [
        A("POST", "/wallet/link", { message: "hello" }),
        400,
        -1102,
        "Mandatory parameter 'walletSignature' was not sent, was empty/null, or malformed.",
      ],
      [
        A("POST", "/wallet/link", { message: "x".repeat(3000), walletSignature: `0x${"11".repeat(65)}` }),
        400,
        -5001,
        "Invalid parameter 'message': longer than 2048 characters.",
      ],
    ];
    for (const [pending, status, code, msg] of cases) {
      const r = await pending;
      expect(r.status, JSON.stringify(r.body)).toBe(status);
      expect(r.body, msg).toMatchObject({ code });
      expect((r.body as { msg: string }).msg.startsWith(msg), (r.body as { msg: string }).msg).toBe(true);
    }
    expect(await walletState()).toEqual(before);
    expect(before.challenges).toEqual([]);
    expect(await identity(A)).toEqual({ kycStatus: "NONE", linkedAddress: null });
  });

  it("links an address by signing the challenge; bad signatures and foreign messages change nothing", async () => {
    // bob takes a challenge of his own first (used below by alice, then by bob)
    bobChallenge = await challenge(B, bobEth.address);

    // lower-case input: the wallet answers the EIP-55 form inside the EIP-4361 message
    const c = await challenge(A, aliceEth.address.toLowerCase());
    expect(c.nonce).toMatch(/^[0-9a-f]{32}$/);
    expect(c.message).toContain("excraft.test wants you to sign in with your Ethereum account:");
    expect(c.message.split("\n")[1]).toBe(aliceEth.address);
    expect(c.message).toContain(`Nonce: ${c.nonce}`);
    expect(c.message).toContain("Chain ID: 31337");
    const before = await walletState();
    expect(before.challenges).toHaveLength(2);

    const refused: [Record<string, string>, number, number, string][] = [
      // signed by another key than the address in the message
      [
        { message: c.message, walletSignature: await otherEth.signMessage(c.message) },
        403,
        -5007,
        "Signature was not made by the address in the message.",
      ],
      // signature of another text
      [
        { message: c.message, walletSignature: await aliceEth.signMessage(`${c.message} `) },
        403,
        -5007,
        "Signature was not made by the address in the message.",
      ],
      // 65 bytes that are no signature
      [
        { message: c.message, walletSignature: `0x${"00".repeat(65)}` },
        400,
        -5001,
        "Invalid parameter 'walletSignature': signature cannot be recovered.",
      ],
      // not hex / wrong length
      [
        { message: c.message, walletSignature: "0xnot-a-signature" },
        400,
        -1100,
        "Illegal characters found in parameter 'walletSignature'; legal range is '^0x[0-9a-fA-F]{130}$'.",
      ],
      [
        { message: c.message, walletSignature: (await aliceEth.signMessage(c.message)).slice(0, 130) },
        400,
        -1100,
        "Illegal characters found in parameter 'walletSignature'; legal range is '^0x[0-9a-fA-F]{130}$'.",
      ],
      // bob's challenge, correctly signed by bob's key, sent by alice
      [
        { message: bobChallenge.message, walletSignature: await bobEth.signMessage(bobChallenge.message) },
        403,
        -5006,
        "Link challenge was issued to another account.",
      ],
      // not an EIP-4361 message
      [
        { message: "please link me", walletSignature: await aliceEth.signMessage("please link me") },
        400,
        -5001,
        "Invalid parameter 'message': message is not a valid EIP-4361 (Sign-In with Ethereum) message.",
      ],
      // a well-formed message whose nonce the wallet never issued
      [
        await signedWith(aliceEth, c.message.replace(c.nonce, "f".repeat(32))),
        400,
        -5002,
        "Unknown link challenge; request a new one (POST /v1/wallet/link/challenge).",
      ],
    ];
    for (const [params, status, code, msg] of refused) {
      const r = await A("POST", "/wallet/link", params);
      expect(r.status, JSON.stringify(r.body)).toBe(status);
      expect(r.body).toEqual({ code, msg });
    }
    expect(await walletState()).toEqual(before);
    expect(await identity(A)).toEqual({ kycStatus: "NONE", linkedAddress: null });

    const ok = await A("POST", "/wallet/link", await signedWith(aliceEth, c.message));
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.body).toEqual({ linkedAddress: aliceEth.address });
    expect(await identity(A)).toEqual({ kycStatus: "NONE", linkedAddress: aliceEth.address });
    expect(await identity(ARead)).toEqual({ kycStatus: "NONE", linkedAddress: aliceEth.address });
    expect(await identity(B)).toEqual({ kycStatus: "NONE", linkedAddress: null });
    const after = await walletState();
    expect(after.links).toEqual([{ account_id: "alice", address: aliceEth.address, unlinked: false }]);
    expect(after.challenges.find((x) => x.nonce === c.nonce)?.used).toBe(true);
    expect(after.challenges.find((x) => x.nonce === bobChallenge.nonce)?.used).toBe(false);

    // the same signed message again: the nonce was used
    const replay = await A("POST", "/wallet/link", await signedWith(aliceEth, c.message));
    expect(replay.status).toBe(409);
    expect(replay.body).toEqual({
      code: -5003,
      msg: "Link challenge can no longer be used (nonce already used (replay)); request a new one.",
    });
    expect(await walletState()).toEqual(after);
  });

  it("one address per account and one account per address (409), nothing changed", async () => {
    const before = await walletState();
    const second = await challenge(A, otherEth.address);
    const r = await A("POST", "/wallet/link", await signedWith(otherEth, second.message));
    expect(r.status).toBe(409);
    expect(r.body).toEqual({ code: -5004, msg: "Account already has a linked address; unlink it first." });

    // bob proves ownership of alice's linked address: still refused
    const stolen = await challenge(B, aliceEth.address);
    const t = await B("POST", "/wallet/link", await signedWith(aliceEth, stolen.message));
    expect(t.status).toBe(409);
    expect(t.body).toEqual({ code: -5005, msg: "Address is linked to another account." });

    const after = await walletState();
    expect(after.links).toEqual(before.links);
    expect(after.challenges.filter((x) => x.used)).toEqual(before.challenges.filter((x) => x.used));
    expect(await identity(B)).toEqual({ kycStatus: "NONE", linkedAddress: null });

    // bob's first challenge was not consumed by alice's attempt: it still links his own address
    const own = await B("POST", "/wallet/link", await signedWith(bobEth, bobChallenge.message));
    expect(own.status, JSON.stringify(own.body)).toBe(200);
    expect(own.body).toEqual({ linkedAddress: bobEth.address });
    expect(await identity(B)).toEqual({ kycStatus: "NONE", linkedAddress: bobEth.address });
  });

  it("KYC status set by the wallet operator (SetKyc) shows in GET /v1/account/identity", async () => {
    await setKyc("alice", KycStatus.PENDING);
    expect(await identity(A)).toEqual({ kycStatus: "PENDING", linkedAddress: aliceEth.address });
    await setKyc("alice", KycStatus.VERIFIED);
    expect(await identity(ARead)).toEqual({ kycStatus: "VERIFIED", linkedAddress: aliceEth.address });
    expect(await identity(B)).toEqual({ kycStatus: "NONE", linkedAddress: bobEth.address });
    await setKyc("bob", KycStatus.REJECTED);
    expect(await identity(B)).toEqual({ kycStatus: "REJECTED", linkedAddress: bobEth.address });
    expect(await identity(A)).toEqual({ kycStatus: "VERIFIED", linkedAddress: aliceEth.address });
  });

  it("unlinks; a second unlink and an old signed message are refused; a new challenge links again", async () => {
    const linkedBefore = await walletState();
    const denied = await ATrade("DELETE", "/wallet/link");
    expect(denied.status).toBe(401);
    expect(denied.body).toEqual({ code: -2015, msg: "Invalid API-key, IP, or permissions for action." });
    expect(await walletState()).toEqual(linkedBefore);

    const r = await A("DELETE", "/wallet/link");
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toEqual({});
    expect(await identity(A)).toEqual({ kycStatus: "VERIFIED", linkedAddress: null });
    expect(await identity(B)).toEqual({ kycStatus: "REJECTED", linkedAddress: bobEth.address });
    const unlinked = await walletState();
    expect(unlinked.links.filter((x) => x.account_id === "alice")).toEqual([
      { account_id: "alice", address: aliceEth.address, unlinked: true },
    ]);

    const again = await A("DELETE", "/wallet/link");
    expect(again.status).toBe(409);
    expect(again.body).toEqual({ code: -5008, msg: "Account has no linked address." });

    // the first link's message and signature cannot re-link after the unlink
    const first = unlinked.challenges.find((x) => x.account_id === "alice" && x.used)!;
    const { rows } = await oe.wallet.pool.query("select message from link_challenges where nonce = $1", [
      first.nonce,
    ]);
    const replay = await A("POST", "/wallet/link", await signedWith(aliceEth, rows[0].message));
    expect(replay.status).toBe(409);
    expect(replay.body).toMatchObject({ code: -5003 });
    expect(await walletState()).toEqual(unlinked);

    const fresh = await challenge(A, aliceEth.address);
    const ok = await A("POST", "/wallet/link", await signedWith(aliceEth, fresh.message));
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(await identity(A)).toEqual({ kycStatus: "VERIFIED", linkedAddress: aliceEth.address });
  });
});

async function signedWith(wallet: { signMessage(m: string): Promise<string> }, message: string) {
  return { message, walletSignature: await wallet.signMessage(message) };
}
