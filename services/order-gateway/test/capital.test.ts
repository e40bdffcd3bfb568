/**
 * Binance's capital endpoints (/sapi/v1: deposit history, withdraw history, withdraw, deposit address)
 * end to end: the real engine shard, the real wallet (ledger, gRPC) with its chain gateway on an
 * in-process EVM (ETH and EXT; the test drives the wallet's deposit scans and withdrawal sends), and
 * the gateway over HTTP. Deposits are real transfers to the hot wallet from the account's linked
 * address (pending → credited, and dropped by a reorg); withdrawals are held, signed, mined and paid
 * (or reverted and released). Every refusal answers Binance's `{code, msg}` and leaves the wallet's
 * tables as they were. ccxt's fetchDepositAddress / fetchDeposits / fetchWithdrawals / withdraw run
 * unmodified against the gateway, configured as the README says.
 */
import { ListDepositsRequest, ListWithdrawalsRequest } from "@excraft/proto";
import { usdtMarketSpec } from "@excraft/testkit";
import { createWalletHandlers } from "@excraft/wallet";
import ccxt from "ccxt";
import { parseEther, type Wallet } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inProcessWallet, utcText } from "../src/index.ts";
import { ccxtConfig } from "./support/ccxt-config.ts";
import { addMarket, send, waitUntil } from "./support/harness.ts";
import {
  ADMIN,
  client,
  createKey,
  credit,
  type ExchangeChain,
  type GatewayInstance,
  type Key,
  type OrderExchange,
  startGateway,
  startOrderExchange,
  walletCall,
} from "./support/order-harness.ts";

const CONFIRMATIONS = 2;
const DAY = 86_400_000;

type Json = Record<string, unknown>;
interface WalletWithdrawal {
  withdrawalId: string;
  createdTimeMs: bigint;
  updatedTimeMs: bigint;
  txHash: string;
  toAddress: string;
}
interface WalletDeposit {
  reference: string;
  timeMs: bigint;
}

/** Every HTTP request a ccxt instance makes (ccxt's own `fetch`, observed, not replaced). */
const requested: string[] = [];
class Binance extends ccxt.binance {
  // biome-ignore lint/suspicious/noExplicitAny: ccxt's own signature
  override fetch(url: any, method?: string, headers?: any, body?: any): Promise<any> {
    requested.push(`${method} ${url}`);
    return super.fetch(url, method, headers, body);
  }
}

async function refusal(call: Promise<unknown>): Promise<{ type: unknown; message: string }> {
  try {
    await call;
  } catch (error) {
    return { type: (error as Error).constructor, message: (error as Error).message };
  }
  throw new Error("expected ccxt to raise");
}

describe("/sapi/v1 capital endpoints over the real wallet and a local EVM", () => {
  let oe: OrderExchange;
  let chain: ExchangeChain;
  let gw: GatewayInstance;
  let aliceKey: Key; // read, trade, withdraw
  let aliceTradeKey: Key; // read, trade
  let bobKey: Key; // read, withdraw
  let aliceEth: Wallet;
  let bobEth: Wallet;
  let recipient: Wallet; // an outside address withdrawals go to (never linked)
  let hot: string;
  let ethDepositHash = "";

  /** A signed client of /sapi/v1 for one key (POST params in a form body, GET in the query string). */
  const sapi = (key: Key) => {
    const call = client(gw.url, key);
    return (
      method: "GET" | "POST",
      path: string,
      params: Record<string, string | number> = {},
      opts: Parameters<typeof call>[3] = {},
    ) => call(method, path, params, { prefix: "/sapi/v1", ...opts });
  };

  /** The wallet's own rows: what a refused request must not change. */
  const walletState = async () =>
    (
      await oe.wallet.pool.query(`select
        (select count(*) from journal_entries) as entries,
        (select coalesce(string_agg(account_id||':'||asset||':'||free||'/'||locked, ',' order by account_id, asset), '') from balances) as balances,
        (select coalesce(string_agg(withdrawal_id||':'||amount||':'||status, ',' order by withdrawal_id), '') from withdrawals) as withdrawals,
        (select count(*) from holds) as holds`)
    ).rows[0];

  const balance = async (key: Key, asset: string) => {
    const r = await client(gw.url, key)("GET", "/account");
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const b = (r.body.balances as { asset: string; free: string; locked: string }[]).find(
      (x) => x.asset === asset,
    );
    return b ? { free: b.free, locked: b.locked } : undefined;
  };

  const walletWithdrawals = async (accountId: string) =>
    (
      await walletCall<{ withdrawals: WalletWithdrawal[] }>(
        oe.walletClient,
        "listWithdrawals",
        ListWithdrawalsRequest.fromPartial({ accountId, limit: 1000 }),
      )
    ).withdrawals;
  const walletDeposits = async (accountId: string) =>
    (
      await walletCall<{ deposits: WalletDeposit[] }>(
        oe.walletClient,
        "listDeposits",
        ListDepositsRequest.fromPartial({ accountId, limit: 1000 }),
      )
    ).deposits;

  const link = async (accountId: string, wallet: Wallet) => {
    const ch = await walletCall<{ message: string }>(oe.walletClient, "createLinkChallenge", {
      accountId,
      address: wallet.address,
    });
    await walletCall(oe.walletClient, "linkWallet", {
      accountId,
      message: ch.message,
      signature: await wallet.signMessage(ch.message),
    });
  };

  /** The answer is exactly Binance's `{code, msg}` with this HTTP status. */
  const expectError = (r: { status: number; body: unknown }, status: number, code: number, msg: string) =>
    expect({ status: r.status, body: r.body }).toEqual({ status, body: { code, msg } });

  beforeAll(async () => {
    oe = await startOrderExchange({ chain: { confirmations: CONFIRMATIONS } });
    chain = oe.chain!;
    hot = chain.hotAddress;
    // ETH needs a market for ccxt to know the currency (without sapi capital/config/getall).
    await send(oe.ex.log, [addMarket(usdtMarketSpec("ETH"), Date.now())]);
    gw = await startGateway(oe, { capital: { depositAddress: hot, walletPageSize: 2 } });
    await waitUntil("ETHUSDT known", () => gw.md.markets.get("ETHUSDT") !== undefined);
    aliceKey = await createKey(gw.url, "alice", ["read", "trade", "withdraw"]);
    aliceTradeKey = await createKey(gw.url, "alice", ["read", "trade"]);
    bobKey = await createKey(gw.url, "bob", ["read", "withdraw"]);
    const wallets = chain.local.wallets;
    [aliceEth, bobEth, recipient] = [wallets[1]!, wallets[2]!, wallets[4]!];
    // Gas money for the hot wallet (from an unlinked address: credited to nobody).
    await (await wallets[0]!.sendTransaction({ to: hot, value: parseEther("1") })).wait();
    await link("alice", aliceEth);
    await link("bob", bobEth);
  }, 240_000);

  afterAll(async () => {
    await gw?.stop();
    await oe?.stop();
  });

  it("deposit/address answers the hot wallet for on-chain coins and refuses the rest", async () => {
    const A = sapi(aliceKey);
    const eth = await A("GET", "/capital/deposit/address", { coin: "ETH" });
    expect(eth.status).toBe(200);
    expect(eth.body).toEqual({ coin: "ETH", address: hot, tag: "", url: "" });
    expect(Number(eth.headers.get("x-mbx-used-weight-1m"))).toBeGreaterThanOrEqual(10);
    expect(eth.headers.get("x-sapi-used-ip-weight-1m")).toBe(eth.headers.get("x-mbx-used-weight-1m"));
    expect((await A("GET", "/capital/deposit/address", { coin: "EXT", network: "ETH" })).body).toEqual({
      coin: "EXT",
      address: hot,
      tag: "",
      url: "",
    });

    expectError(
      await A("GET", "/capital/deposit/address", { coin: "USDT" }),
      400,
      -5010,
      "USDT is not deposited on chain here (on-chain coins: ETH, EXT).",
    );
    expectError(
      await A("GET", "/capital/deposit/address", { coin: "DOGE" }),
      400,
      -4018,
      "We don't have this asset.",
    );
    expectError(
      await A("GET", "/capital/deposit/address"),
      400,
      -1102,
      "Mandatory parameter 'coin' was not sent, was empty/null, or malformed.",
    );
    expectError(
      await A("GET", "/capital/deposit/address", { coin: "eth!" }),
      400,
      -1100,
      "Illegal characters found in parameter 'coin'; legal range is '^[A-Z0-9-_.]{1,20}$'.",
    );
    expectError(
      await A("GET", "/capital/deposit/address", { coin: "ETH", network: "BSC" }),
      400,
      -1100,
      "Illegal characters found in parameter 'network'; legal range is 'ETH'.",
    );
    expectError(
      await A("GET", "/capital/deposit/address", { coin: "ETH" }, { signature: "00".repeat(32) }),
      400,
      -1022,
      "Signature for this request is not valid.",
    );
    expectError(
      await A("GET", "/capital/deposit/address", { coin: "ETH" }, { headers: { "X-MBX-APIKEY": "short" } }),
      401,
      -2014,
      "API-key format invalid.",
    );

    // A gateway that was not given the hot address says so.
    const other = await startGateway(oe, {
      groupId: "capital-no-address",
      mdGroupId: "capital-no-address-md",
    });
    try {
      const r = await client(other.url, aliceKey)(
        "GET",
        "/capital/deposit/address",
        { coin: "ETH" },
        { prefix: "/sapi/v1" },
      );
      expectError(r, 503, -5011, "No deposit address is configured on this gateway.");
    } finally {
      await other.stop();
    }
  });

  it("deposit/hisrec lists a chain deposit pending with its confirmations, then credited in place", async () => {
    const A = sapi(aliceKey);
    const gwChain = oe.wallet.chain!;
    const tx = (await (await aliceEth.sendTransaction({ to: hot, value: parseEther("1") })).wait())!;
    ethDepositHash = tx.hash;
    expect(await gwChain.pollDeposits()).toBe(0);
    const [seen] = await walletDeposits("alice");
    const pending = {
      id: `chain:${tx.hash}:eth`,
      amount: "1.00000000",
      coin: "ETH",
      network: "ETH",
      status: 0,
      address: hot,
      addressTag: "",
      txId: tx.hash,
      insertTime: Number(seen!.timeMs),
      transferType: 0,
      confirmTimes: `1/${CONFIRMATIONS}`,
      unlockConfirm: CONFIRMATIONS,
      walletType: 0,
    };
    const first = await A("GET", "/capital/deposit/hisrec");
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body).toEqual([pending]);
    expect(await balance(aliceKey, "ETH")).toBeUndefined(); // a pending deposit is in no balance
    expect((await A("GET", "/capital/deposit/hisrec", { status: 0 })).body).toEqual([pending]);
    expect((await A("GET", "/capital/deposit/hisrec", { status: 1 })).body).toEqual([]);

    await chain.local.mine(1);
    expect(await gwChain.pollDeposits()).toBe(1);
    const credited = { ...pending, status: 1, confirmTimes: `${CONFIRMATIONS}/${CONFIRMATIONS}` };
    expect((await A("GET", "/capital/deposit/hisrec", { coin: "ETH" })).body).toEqual([credited]);
    expect(await balance(aliceKey, "ETH")).toEqual({ free: "1.00000000", locked: "0.00000000" });
    // Another account never sees it.
    expect((await sapi(bobKey)("GET", "/capital/deposit/hisrec")).body).toEqual([]);
  });

  it("a deposit dropped by a reorg before it was credited shows as status 2 (rejected)", async () => {
    const B = sapi(bobKey);
    const gwChain = oe.wallet.chain!;
    const raw = await bobEth.signTransaction(
      await bobEth.populateTransaction({ to: hot, value: parseEther("0.5") }),
    );
    const fork = await chain.local.snapshot();
    const tx = await chain.local.provider.broadcastTransaction(raw);
    await tx.wait();
    await gwChain.pollDeposits();
    expect((await B("GET", "/capital/deposit/hisrec")).body).toMatchObject([
      { id: `chain:${tx.hash}:eth`, status: 0, confirmTimes: `1/${CONFIRMATIONS}` },
    ]);
    // The block holding it is replaced by a longer chain without it.
    await chain.local.revert(fork);
    await chain.local.mine(CONFIRMATIONS + 1);
    expect(await gwChain.pollDeposits()).toBe(0);
    const dropped = await B("GET", "/capital/deposit/hisrec", { status: 2 });
    expect(dropped.body).toMatchObject([
      { id: `chain:${tx.hash}:eth`, coin: "ETH", amount: "0.50000000", status: 2, txId: tx.hash },
    ]);
    expect((await B("GET", "/capital/deposit/hisrec", { status: 1 })).body).toEqual([]);
    expect(await balance(bobKey, "ETH")).toBeUndefined();
  });

  it("withdraw/apply refuses bad requests with Binance's codes and changes nothing", async () => {
    const A = sapi(aliceKey);
    await credit(oe, "alice", "USDT", 5_000_000n, "capital-alice-usdt"); // an off-chain asset
    const before = await walletState();
    const ok = { coin: "ETH", address: recipient.address, amount: "0.4", withdrawOrderId: "w-1" };
    const apply = (params: Record<string, string>, opts = {}) =>
      A("POST", "/capital/withdraw/apply", params, opts);
    const without = (name: string) => Object.fromEntries(Object.entries(ok).filter(([k]) => k !== name));
    const flipped = recipient.address.replace(/[a-fA-F]/, (c) =>
      c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase(),
    );

    // A withdraw key must name its IPs (as Binance); one used from another IP is refused (-2015).
    const adminCreate = (ipAllowList?: string[]) =>
      fetch(`${gw.url}/v1/accounts/alice/api-keys`, {
        method: "POST",
        headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
        body: JSON.stringify({ permissions: ["read", "withdraw"], ...(ipAllowList ? { ipAllowList } : {}) }),
      });
    const noIps = await adminCreate();
    expect(noIps.status).toBe(400);
    expect(((await noIps.json()) as { message: string }).message).toContain("IP allow-list");
    const elsewhere = (await (await adminCreate(["10.1.2.3"])).json()) as Key;
    expectError(
      await sapi(elsewhere)("POST", "/capital/withdraw/apply", ok),
      401,
      -2015,
      "Invalid API-key, IP, or permissions for action.",
    );

    // A key without the withdraw permission: Binance's -1002.
    expectError(
      await sapi(aliceTradeKey)("POST", "/capital/withdraw/apply", ok),
      401,
      -1002,
      "You are not authorized to execute this request.",
    );
    expectError(
      await apply({ ...ok, amount: "0.123456789" }),
      400,
      -4021,
      "Asset withdrawal must be an integer multiple of 0.00000001.",
    );
    for (const amount of ["abc", "-1", "1e3", "0.1.2"]) {
      expectError(
        await apply({ ...ok, amount }),
        400,
        -1100,
        "Illegal characters found in parameter 'amount'; legal range is '^([0-9]{1,20})(\\.[0-9]{1,20})?$'.",
      );
    }
    for (const amount of ["0", "0.000000000"]) {
      expectError(
        await apply({ ...ok, amount }),
        400,
        -4022,
        "Not less than the minimum pick-up quantity 0.00000001.",
      );
    }
    for (const amount of ["1.00000001", "99999999999999999999"]) {
      expectError(await apply({ ...ok, amount }), 400, -4026, "You have insufficient balance.");
    }
    expectError(await apply({ ...ok, coin: "DOGE" }), 400, -4018, "We don't have this asset.");
    expectError(
      await apply({ ...ok, coin: "USDT", amount: "1" }),
      400,
      -4019,
      "Current asset is not open for withdrawal.",
    );
    for (const name of ["coin", "address", "amount"]) {
      expectError(
        await apply(without(name)),
        400,
        -1102,
        `Mandatory parameter '${name}' was not sent, was empty/null, or malformed.`,
      );
    }
    expectError(await apply({ ...ok, address: "0x1234" }), 400, -4033, "Illegal address.");
    expectError(await apply({ ...ok, address: flipped }), 400, -4033, "Illegal address."); // EIP-55 checksum
    expectError(
      await apply({ ...ok, withdrawOrderId: "bad id!" }),
      400,
      -1100,
      "Illegal characters found in parameter 'withdrawOrderId'; legal range is '^[\\.A-Z\\:/a-z0-9_-]{1,60}$'.",
    );
    expectError(
      await apply({ ...ok, network: "BSC" }),
      400,
      -1100,
      "Illegal characters found in parameter 'network'; legal range is 'ETH'.",
    );
    expectError(
      await apply({ ...ok, addressTag: "123" }),
      400,
      -1106,
      "Parameter 'addressTag' sent when not required.",
    );
    expectError(
      await apply(ok, { timestamp: Date.now() - 60_000 }),
      400,
      -1021,
      "Timestamp for this request is outside of the recvWindow.",
    );
    // A JSON body is not read by the signature check: refused rather than ignored.
    const json = await fetch(`${gw.url}/sapi/v1/capital/withdraw/apply`, {
      method: "POST",
      headers: { "X-MBX-APIKEY": aliceKey.apiKey, "content-type": "application/json" },
      body: JSON.stringify(ok),
    });
    expect({ status: json.status, body: await json.json() }).toEqual({
      status: 400,
      body: {
        code: -5000,
        msg: "Parameters must be sent in the query string or an application/x-www-form-urlencoded body.",
      },
    });
    expect(await walletState()).toEqual(before);
    expect(await balance(aliceKey, "ETH")).toEqual({ free: "1.00000000", locked: "0.00000000" });
  });

  it("withdraw/apply holds the amount, is idempotent by withdrawOrderId, and history follows it to completion", async () => {
    const A = sapi(aliceKey);
    const gwChain = oe.wallet.chain!;
    const ok = { coin: "ETH", address: recipient.address, amount: "0.4", withdrawOrderId: "w-1" };
    const applied = await A("POST", "/capital/withdraw/apply", ok);
    expect(applied.status, JSON.stringify(applied.body)).toBe(200);
    expect(applied.body).toEqual({ id: "alice:w:w-1" });
    expect(Number(applied.headers.get("x-mbx-used-weight-1m"))).toBeGreaterThanOrEqual(1);
    expect(await balance(aliceKey, "ETH")).toEqual({ free: "0.60000000", locked: "0.40000000" });

    // The same request again (the address in another case): the same withdrawal, nothing more held.
    const held = await walletState();
    const again = await A("POST", "/capital/withdraw/apply", { ...ok, address: ok.address.toLowerCase() });
    expect({ status: again.status, body: again.body }).toEqual({ status: 200, body: { id: "alice:w:w-1" } });
    expect(await walletState()).toEqual(held);
    // The same withdrawOrderId with other parameters is refused; nothing changes.
    expectError(
      await A("POST", "/capital/withdraw/apply", { ...ok, amount: "0.3" }),
      409,
      -5009,
      "withdrawOrderId was already used for a withdrawal with other parameters.",
    );
    expect(await walletState()).toEqual(held);
    // Another account's withdrawOrderId space is its own: bob's "w-1" is his (he has no ETH).
    expectError(
      await sapi(bobKey)("POST", "/capital/withdraw/apply", ok),
      400,
      -4026,
      "You have insufficient balance.",
    );
    expect(await walletState()).toEqual(held);

    // Without withdrawOrderId: a generated id, no withdrawOrderId in the history.
    const second = await A("POST", "/capital/withdraw/apply", {
      coin: "ETH",
      address: recipient.address,
      amount: "0.1",
      network: "ETH",
    });
    expect(second.status, JSON.stringify(second.body)).toBe(200);
    const secondId = second.body.id as string;
    expect(secondId).toMatch(/^alice:g:[0-9a-f]{32}$/);
    expect(await balance(aliceKey, "ETH")).toEqual({ free: "0.50000000", locked: "0.50000000" });

    const [w2, w1] = await walletWithdrawals("alice");
    expect([w2!.withdrawalId, w1!.withdrawalId]).toEqual([secondId, "alice:w:w-1"]);
    const view = (w: WalletWithdrawal, amount: string, extra: Json) => ({
      id: w.withdrawalId,
      amount,
      transactionFee: "0.00000000",
      coin: "ETH",
      status: 4,
      address: recipient.address,
      txId: w.txHash,
      applyTime: utcText(w.createdTimeMs),
      network: "ETH",
      transferType: 0,
      info: "",
      walletType: 0,
      ...extra,
    });
    expect((await A("GET", "/capital/withdraw/history")).body).toEqual([
      view(w2!, "0.10000000", {}),
      view(w1!, "0.40000000", { withdrawOrderId: "w-1" }),
    ]);

    // The wallet signs and broadcasts them (the local EVM mines each at once): still processing (4),
    // now with their transaction hashes.
    const recipientBefore = await chain.local.provider.getBalance(recipient.address);
    expect(await gwChain.sendPending()).toBe(2);
    const [s2, s1] = await walletWithdrawals("alice");
    expect(s1!.txHash).toMatch(/^0x[0-9a-f]{64}$/);
    expect((await A("GET", "/capital/withdraw/history")).body).toEqual([
      view(s2!, "0.10000000", {}),
      view(s1!, "0.40000000", { withdrawOrderId: "w-1" }),
    ]);
    // Deep enough: paid out of the ledger, completed (6) with completeTime; the recipient has the ETH.
    await chain.local.mine(CONFIRMATIONS);
    expect(await gwChain.confirmSent()).toEqual({ confirmed: 2, failed: 0 });
    const [c2, c1] = await walletWithdrawals("alice");
    expect((await A("GET", "/capital/withdraw/history")).body).toEqual([
      view(c2!, "0.10000000", { status: 6, completeTime: utcText(c2!.updatedTimeMs) }),
      view(c1!, "0.40000000", {
        status: 6,
        completeTime: utcText(c1!.updatedTimeMs),
        withdrawOrderId: "w-1",
      }),
    ]);
    expect(await balance(aliceKey, "ETH")).toEqual({ free: "0.50000000", locked: "0.00000000" });
    expect((await chain.local.provider.getBalance(recipient.address)) - recipientBefore).toBe(
      parseEther("0.5"),
    );
    expect(await oe.wallet.runAudit()).toBe(true);
  });

  it("a withdrawal that reverts on chain is a failure (5) and its amount is released", async () => {
    const A = sapi(aliceKey);
    const gwChain = oe.wallet.chain!;
    // EXT credited by the operator: the hot wallet holds no EXT, so the transfer reverts.
    await credit(oe, "alice", "EXT", 1_000_000_000n, "capital-alice-ext"); // 10 EXT
    const r = await A("POST", "/capital/withdraw/apply", {
      coin: "EXT",
      address: recipient.address,
      amount: "2.5",
      withdrawOrderId: "ext-1",
    });
    expect(r.body).toEqual({ id: "alice:w:ext-1" });
    expect(await balance(aliceKey, "EXT")).toEqual({ free: "7.50000000", locked: "2.50000000" });
    expect(await gwChain.sendPending()).toBe(1);
    await chain.local.mine(CONFIRMATIONS);
    expect(await gwChain.confirmSent()).toEqual({ confirmed: 0, failed: 1 });
    const history = await A("GET", "/capital/withdraw/history", { coin: "EXT" });
    expect(history.body).toMatchObject([
      {
        id: "alice:w:ext-1",
        coin: "EXT",
        amount: "2.50000000",
        status: 5,
        withdrawOrderId: "ext-1",
        info: "The withdrawal transaction reverted on chain; the amount was released.",
      },
    ]);
    expect(history.body[0].completeTime).toBeUndefined();
    expect(await balance(aliceKey, "EXT")).toEqual({ free: "10.00000000", locked: "0.00000000" });
  });

  it("withdraw/history pages by offset/limit and filters by coin, status, ids and time like Binance", async () => {
    const A = sapi(aliceKey);
    for (const id of ["p-1", "p-2", "p-3"]) {
      const r = await A("POST", "/capital/withdraw/apply", {
        coin: "ETH",
        address: recipient.address,
        amount: "0.01",
        withdrawOrderId: id,
      });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
    }
    const oracle = await walletWithdrawals("alice"); // newest first: p-3 p-2 p-1 ext-1 <generated> w-1
    expect(oracle).toHaveLength(6);
    const ids = (body: { id: string }[]) => body.map((w) => w.id);
    const all = await A("GET", "/capital/withdraw/history");
    expect(ids(all.body)).toEqual(oracle.map((w) => w.withdrawalId));

    // offset/limit walk the wallet's pages (2 rows per wallet call in this gateway).
    const paged: string[] = [];
    for (let offset = 0; offset < 8; offset += 4) {
      paged.push(...ids((await A("GET", "/capital/withdraw/history", { offset, limit: 4 })).body));
    }
    expect(paged).toEqual(oracle.map((w) => w.withdrawalId));
    expect(ids((await A("GET", "/capital/withdraw/history", { offset: 5, limit: 1 })).body)).toEqual([
      oracle[5]!.withdrawalId,
    ]);
    expect((await A("GET", "/capital/withdraw/history", { offset: 6 })).body).toEqual([]);
    expect(ids((await A("GET", "/capital/withdraw/history", { limit: 0 })).body)).toEqual([
      oracle[0]!.withdrawalId,
    ]); // below 1 → 1

    // Status: 4 processing (filtered by the gateway across wallet pages), 6 completed, 5 failure.
    expect(ids((await A("GET", "/capital/withdraw/history", { status: 4 })).body)).toEqual([
      "alice:w:p-3",
      "alice:w:p-2",
      "alice:w:p-1",
    ]);
    expect(
      ids((await A("GET", "/capital/withdraw/history", { status: 4, offset: 1, limit: 1 })).body),
    ).toEqual(["alice:w:p-2"]);
    expect(ids((await A("GET", "/capital/withdraw/history", { status: 6 })).body)).toEqual(
      oracle.slice(4).map((w) => w.withdrawalId),
    );
    expect(ids((await A("GET", "/capital/withdraw/history", { status: 5 })).body)).toEqual(["alice:w:ext-1"]);
    expect((await A("GET", "/capital/withdraw/history", { status: 0 })).body).toEqual([]);
    expectError(
      await A("GET", "/capital/withdraw/history", { status: 9 }),
      400,
      -1130,
      "Invalid data sent for a parameter.",
    );
    expectError(
      await A("GET", "/capital/withdraw/history", { status: "x" }),
      400,
      -1100,
      "Illegal characters found in parameter 'status'; legal range is '^[0-9]{1,20}$'.",
    );

    // coin, withdrawOrderId, idList.
    expect(ids((await A("GET", "/capital/withdraw/history", { coin: "EXT" })).body)).toEqual([
      "alice:w:ext-1",
    ]);
    expect((await A("GET", "/capital/withdraw/history", { coin: "BTC" })).body).toEqual([]);
    expectError(
      await A("GET", "/capital/withdraw/history", { coin: "DOGE" }),
      400,
      -4018,
      "We don't have this asset.",
    );
    expect((await A("GET", "/capital/withdraw/history", { withdrawOrderId: "p-2" })).body).toMatchObject([
      { id: "alice:w:p-2", withdrawOrderId: "p-2", amount: "0.01000000", status: 4 },
    ]);
    expect((await A("GET", "/capital/withdraw/history", { withdrawOrderId: "nope" })).body).toEqual([]);
    expect(
      ids((await A("GET", "/capital/withdraw/history", { idList: "alice:w:w-1,alice:w:p-1" })).body),
    ).toEqual(["alice:w:p-1", "alice:w:w-1"]);
    expect((await sapi(bobKey)("GET", "/capital/withdraw/history", { withdrawOrderId: "p-2" })).body).toEqual(
      [],
    );

    // Time: startTime / endTime inclusive, on applyTime (the wallet's creation time).
    const t = Number(oracle[1]!.createdTimeMs); // p-2
    const created = (w: WalletWithdrawal) => Number(w.createdTimeMs);
    expect(ids((await A("GET", "/capital/withdraw/history", { startTime: t })).body)).toEqual(
      oracle.filter((w) => created(w) >= t).map((w) => w.withdrawalId),
    );
    expect(
      ids((await A("GET", "/capital/withdraw/history", { startTime: t - DAY, endTime: t })).body),
    ).toEqual(oracle.filter((w) => created(w) <= t).map((w) => w.withdrawalId));
    // At most 90 days between them; start after end is refused too.
    const now = Date.now();
    expect(
      (await A("GET", "/capital/withdraw/history", { startTime: now - 90 * DAY, endTime: now })).status,
    ).toBe(200);
    const windows: Record<string, number>[] = [
      { startTime: now - 91 * DAY, endTime: now },
      { startTime: now - 91 * DAY },
      { startTime: now, endTime: now - 1 },
    ];
    for (const params of windows) {
      expectError(
        await A("GET", "/capital/withdraw/history", params),
        400,
        -4047,
        "Time interval must be within 0-90 days",
      );
    }
    // Weight: 10 per wallet page of 1000 rows the request may walk (offset 2500 + limit 1000 → 4 pages).
    const w1 = Number((await A("GET", "/capital/withdraw/history")).headers.get("x-mbx-used-weight-1m"));
    const w2 = Number(
      (await A("GET", "/capital/withdraw/history", { offset: 2500 })).headers.get("x-mbx-used-weight-1m"),
    );
    expect(w2 > w1 ? w2 - w1 : w2).toBe(40); // (a new minute restarts the count)
  });

  it("deposit/hisrec pages and filters the same way, deposits not from the chain included", async () => {
    const A = sapi(aliceKey);
    for (let i = 1; i <= 4; i++) {
      await oe.wallet.ledger.deposit(`test:usdt:${i}`, "alice", "USDT", BigInt(i) * 1_000_000n);
    }
    const oracle = await walletDeposits("alice"); // newest first: test:usdt:4 … 1, the ETH deposit
    expect(oracle.map((d) => d.reference)).toEqual([
      "test:usdt:4",
      "test:usdt:3",
      "test:usdt:2",
      "test:usdt:1",
      `chain:${ethDepositHash}:eth`,
    ]);
    const all = await A("GET", "/capital/deposit/hisrec");
    const ids = (body: { id: string }[]) => body.map((d) => d.id);
    expect(ids(all.body)).toEqual(oracle.map((d) => d.reference));
    expect(all.body[0]).toEqual({
      id: "test:usdt:4",
      amount: "4.00000000",
      coin: "USDT",
      network: "",
      status: 1,
      address: "",
      addressTag: "",
      txId: "",
      insertTime: Number(oracle[0]!.timeMs),
      transferType: 1,
      confirmTimes: "0/0",
      unlockConfirm: 0,
      walletType: 0,
    });
    const paged: string[] = [];
    for (let offset = 0; offset < 6; offset += 3) {
      paged.push(...ids((await A("GET", "/capital/deposit/hisrec", { offset, limit: 3 })).body));
    }
    expect(paged).toEqual(oracle.map((d) => d.reference));
    expect(
      ids((await A("GET", "/capital/deposit/hisrec", { coin: "USDT", offset: 1, limit: 2 })).body),
    ).toEqual(["test:usdt:3", "test:usdt:2"]);
    expect(ids((await A("GET", "/capital/deposit/hisrec", { txId: ethDepositHash })).body)).toEqual([
      `chain:${ethDepositHash}:eth`,
    ]);
    expect((await A("GET", "/capital/deposit/hisrec", { status: 6 })).body).toEqual([]);
    expect((await A("GET", "/capital/deposit/hisrec", { status: 2 })).body).toEqual([]);
    expectError(
      await A("GET", "/capital/deposit/hisrec", { status: 3 }),
      400,
      -1130,
      "Invalid data sent for a parameter.",
    );
    expectError(
      await A("GET", "/capital/deposit/hisrec", { txId: "0x12" }),
      400,
      -1100,
      "Illegal characters found in parameter 'txId'; legal range is '^0x[0-9a-fA-F]{64}$'.",
    );
    expectError(
      await A("GET", "/capital/deposit/hisrec", { coin: "DOGE" }),
      400,
      -4018,
      "We don't have this asset.",
    );
    const t = Number(oracle[2]!.timeMs);
    expect(ids((await A("GET", "/capital/deposit/hisrec", { startTime: t })).body)).toEqual(
      oracle.filter((d) => Number(d.timeMs) >= t).map((d) => d.reference),
    );
    expect(ids((await A("GET", "/capital/deposit/hisrec", { endTime: t })).body)).toEqual(
      oracle.filter((d) => Number(d.timeMs) <= t).map((d) => d.reference),
    );
    expectError(
      await A("GET", "/capital/deposit/hisrec", { startTime: Date.now() - 100 * DAY }),
      400,
      -4047,
      "Time interval must be within 0-90 days",
    );
    // Weight 1 per wallet page walked.
    const w1 = Number((await A("GET", "/capital/deposit/hisrec")).headers.get("x-mbx-used-weight-1m"));
    const w2 = Number(
      (await A("GET", "/capital/deposit/hisrec", { offset: 1000, limit: 500 })).headers.get(
        "x-mbx-used-weight-1m",
      ),
    );
    expect(w2 > w1 ? w2 - w1 : w2).toBe(2);
  });

  it("ccxt fetchDepositAddress, fetchDeposits, fetchWithdrawals and withdraw work unchanged", async () => {
    requested.length = 0;
    const alice = new Binance(ccxtConfig(gw.url, aliceKey));
    await alice.loadMarkets();

    const address = await alice.fetchDepositAddress("ETH");
    expect(address).toEqual({
      info: { coin: "ETH", address: hot, tag: "", url: "" },
      currency: "ETH",
      network: undefined,
      address: hot,
      tag: undefined,
    });

    const deposits = await alice.fetchDeposits("ETH");
    const [ethDeposit] = await walletDeposits("alice").then((list) =>
      list.filter((d) => d.reference.startsWith("chain:")),
    );
    expect(deposits).toHaveLength(1);
    expect(deposits[0]).toMatchObject({
      id: `chain:${ethDepositHash}:eth`,
      txid: ethDepositHash,
      timestamp: Number(ethDeposit!.timeMs),
      datetime: new Date(Number(ethDeposit!.timeMs)).toISOString(),
      network: "ETH",
      address: hot,
      addressTo: hot,
      type: "deposit",
      amount: 1,
      currency: "ETH",
      status: "ok",
      internal: false,
      fee: undefined,
    });
    // Every coin: the USDT credits come along, parsed as internal (not from the chain).
    const everything = await alice.fetchDeposits();
    expect(everything[0]).toMatchObject({ currency: "ETH", amount: 1, internal: false }); // oldest first
    expect(everything.map((d) => [d.currency, d.amount, d.status, d.internal]).sort()).toEqual([
      ["ETH", 1, "ok", false],
      ["USDT", 1, "ok", true],
      ["USDT", 2, "ok", true],
      ["USDT", 3, "ok", true],
      ["USDT", 4, "ok", true],
    ]);

    const withdrawals = await alice.fetchWithdrawals("ETH");
    const oracle = (await walletWithdrawals("alice")).filter((w) => !w.withdrawalId.includes("ext"));
    // ccxt sorts by applyTime (whole seconds): compare as sets.
    expect(withdrawals.map((w) => w.id).sort()).toEqual(oracle.map((w) => w.withdrawalId).sort());
    const w1 = withdrawals.find((w) => w.id === "alice:w:w-1")!;
    const w1Wallet = oracle.find((w) => w.withdrawalId === "alice:w:w-1")!;
    expect(w1).toMatchObject({
      id: "alice:w:w-1",
      txid: w1Wallet.txHash,
      timestamp: Math.floor(Number(w1Wallet.createdTimeMs) / 1000) * 1000, // applyTime has seconds
      network: "ETH",
      address: recipient.address,
      type: "withdrawal",
      amount: 0.4,
      currency: "ETH",
      status: "ok",
      internal: false,
      fee: { currency: "ETH", cost: 0 },
    });
    expect(withdrawals.find((w) => w.id === "alice:w:p-1")).toMatchObject({
      status: "pending",
      txid: undefined,
    });
    // Without a coin every withdrawal comes (a coin ccxt knows from no market, EXT here, included).
    expect((await alice.fetchWithdrawals()).find((w) => w.id === "alice:w:ext-1")).toMatchObject({
      currency: "EXT",
      amount: 2.5,
      status: "failed",
    });

    // withdraw: held at once; the same withdrawOrderId again is the same withdrawal.
    const before = await balance(aliceKey, "ETH");
    const made = await alice.withdraw("ETH", 0.05, recipient.address, undefined, {
      withdrawOrderId: "ccxt-1",
    });
    expect(made).toMatchObject({ id: "alice:w:ccxt-1", info: { id: "alice:w:ccxt-1" }, currency: "ETH" });
    const again = await alice.withdraw("ETH", 0.05, recipient.address, undefined, {
      withdrawOrderId: "ccxt-1",
    });
    expect(again.id).toBe("alice:w:ccxt-1");
    const after = await balance(aliceKey, "ETH");
    expect(Number(after!.locked) - Number(before!.locked)).toBeCloseTo(0.05, 10);
    expect(after!.locked).toBe("0.08000000"); // p-1..p-3 (0.03) + 0.05
    expect((await alice.fetchWithdrawals("ETH")).find((w) => w.id === "alice:w:ccxt-1")).toMatchObject({
      amount: 0.05,
      status: "pending",
      address: recipient.address,
    });

    // Refusals reach ccxt's exception classes (its generic table: the host is not binance.com).
    const state = await walletState();
    const tradeOnly = new Binance(ccxtConfig(gw.url, aliceTradeKey));
    expect(await refusal(tradeOnly.withdraw("ETH", 0.01, recipient.address))).toEqual({
      type: ccxt.PermissionDenied, // matched by its message in ccxt's table
      message: "binance You are not authorized to execute this request.",
    });
    expect(await refusal(alice.withdraw("ETH", 100, recipient.address))).toEqual({
      type: ccxt.BadRequest,
      message: 'binance {"code":-4026,"msg":"You have insufficient balance."}',
    });
    expect(await refusal(alice.withdraw("ETH", 0.01, "0x1234567890"))).toEqual({
      type: ccxt.BadRequest,
      message: 'binance {"code":-4033,"msg":"Illegal address."}',
    });
    expect(await walletState()).toEqual(state);

    expect(requested.length).toBeGreaterThan(8);
    expect(requested.filter((r) => !r.split(" ")[1]!.startsWith(`${gw.url}/`))).toEqual([]);
    expect(requested.some((r) => r.includes("/sapi/v1/capital/withdraw/apply"))).toBe(true);
  });
  it("documents the capital routes in /docs", async () => {
    const docs = (await (await fetch(`${gw.url}/docs`)).json()) as {
      paths: Record<string, Record<string, { security?: unknown; responses: Record<string, unknown> }>>;
    };
    expect(Object.keys(docs.paths).filter((p) => p.startsWith("/sapi/"))).toEqual([
      "/sapi/v1/capital/deposit/hisrec",
      "/sapi/v1/capital/withdraw/history",
      "/sapi/v1/capital/withdraw/apply",
      "/sapi/v1/capital/deposit/address",
    ]);
    const apply = docs.paths["/sapi/v1/capital/withdraw/apply"]!.post!;
    expect(apply.security).toEqual([{ apiKey: [] }]);
    for (const code of ["-1002", "-4021", "-4026", "-4033", "-5009"]) {
      expect(JSON.stringify(apply.responses)).toContain(code);
    }
  });

  it("one-process mode: the wallet's handlers called in-process answer exactly as over gRPC", async () => {
    const handlers = createWalletHandlers(oe.wallet.ledger, oe.wallet.identity, { chain: oe.wallet.chain });
    const local = await startGateway(oe, {
      wallet: inProcessWallet(handlers),
      groupId: "capital-in-process",
      mdGroupId: "capital-in-process-md",
      capital: { depositAddress: hot, walletPageSize: 2 },
    });
    try {
      const viaGrpc = sapi(aliceKey);
      const inProcess = (
        method: "GET" | "POST",
        path: string,
        params: Record<string, string | number> = {},
      ) => client(local.url, aliceKey)(method, path, params, { prefix: "/sapi/v1" });
      const reads: [string, Record<string, string | number>][] = [
        ["/capital/withdraw/history", {}],
        ["/capital/withdraw/history", { status: 4, offset: 1, limit: 2 }],
        ["/capital/deposit/hisrec", {}],
        ["/capital/deposit/hisrec", { coin: "USDT", offset: 2 }],
        ["/capital/deposit/address", { coin: "ETH" }],
        ["/capital/deposit/address", { coin: "USDT" }],
      ];
      for (const [path, params] of reads) {
        const a = await inProcess("GET", path, params);
        const b = await viaGrpc("GET", path, params);
        expect({ status: a.status, body: a.body }, path).toEqual({ status: b.status, body: b.body });
      }
      // The wallet's refusals (its ErrorDetail code and field) map to the same Binance errors.
      const state = await walletState();
      const refusals: Record<string, string>[] = [
        { coin: "ETH", address: recipient.address, amount: "1000" }, // -4026
        { coin: "USDT", address: recipient.address, amount: "1" }, // -4019
        {
          coin: "ETH",
          address: recipient.address.replace(/[a-fA-F]/, (c) =>
            c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase(),
          ),
          amount: "0.01",
        }, // -4033 (checksum)
        { coin: "ETH", address: recipient.address, amount: "0.02", withdrawOrderId: "w-1" }, // -5009
      ];
      for (const params of refusals) {
        const a = await inProcess("POST", "/capital/withdraw/apply", params);
        const b = await viaGrpc("POST", "/capital/withdraw/apply", params);
        expect(a.status).toBeGreaterThanOrEqual(400);
        expect({ status: a.status, body: a.body }).toEqual({ status: b.status, body: b.body });
      }
      expect(await walletState()).toEqual(state);
      // A withdrawal made through it is the wallet's like any other.
      const made = await inProcess("POST", "/capital/withdraw/apply", {
        coin: "ETH",
        address: recipient.address,
        amount: "0.01",
        withdrawOrderId: "local-1",
      });
      expect(made.body).toEqual({ id: "alice:w:local-1" });
      expect(
        (await viaGrpc("GET", "/capital/withdraw/history", { withdrawOrderId: "local-1" })).body,
      ).toMatchObject([{ id: "alice:w:local-1", amount: "0.01000000", status: 4 }]);
    } finally {
      await local.stop();
    }
  });
});
