import { type EventLog, openEmbeddedEventLog } from "@excraft/eventlog";
import { createLogger, errorDetailsOf } from "@excraft/platform";
import {
  DepositStatus,
  type GetFeeRatesResponse,
  KycStatus,
  LedgerEvent,
  ListDepositsRequest,
  ListWithdrawalsRequest,
  SetFeeRateRequest,
  WalletClient,
} from "@excraft/proto";
import { startPostgres, type TestPostgres } from "@excraft/testkit";
import { credentials, Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { Wallet } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWalletApp, type WalletApp } from "../src/app";
import { signKycWebhook } from "../src/identity";
import { ASSETS, BTCUSDT } from "./fixtures";

let pgServer: TestPostgres;
let log: EventLog;
let app: WalletApp;
let client: WalletClient;
const SECRET = "kyc-webhook-test-secret";

beforeAll(async () => {
  pgServer = await startPostgres();
  const url = await pgServer.createDatabase("wallet_grpc");
  log = await openEmbeddedEventLog();
  await log.createTopic("executions.v1", 1);
  app = await startWalletApp({
    databaseUrl: url,
    eventLog: log,
    logger: createLogger({ name: "wallet-test", level: "silent" }),
    opsPort: 0,
    webhookPort: 0,
    siwe: { domain: "excraft.test", uri: "https://excraft.test/link", chainId: 31337 },
    kycWebhookSecret: SECRET,
    assets: ASSETS,
    markets: [BTCUSDT],
  });
  client = new WalletClient(app.grpc.address, credentials.createInsecure());
});
afterAll(async () => {
  client?.close();
  app?.pool.on("error", () => {});
  await app?.stop();
  await log?.close();
  await pgServer?.stop();
});

type Method = keyof typeof WalletClient.service;
function call<Res>(method: Method, request: unknown): Promise<Res> {
  return new Promise((resolve, reject) => {
    // biome-ignore lint/suspicious/noExplicitAny: generic dispatch over the client's unary methods
    (client as any)[method](request, (e: ServiceError | null, r: Res) => (e ? reject(e) : resolve(r)));
  });
}
async function fails(method: Method, request: unknown, code: status, detail: string) {
  const e = (await call(method, request).then(
    () => undefined,
    (x: ServiceError) => x,
  )) as ServiceError | undefined;
  expect(e, `${method} should fail`).toBeDefined();
  expect(e!.code).toBe(code);
  expect(errorDetailsOf(e!.metadata)[0]?.code).toBe(detail);
  return e!;
}
async function state() {
  const r = await app.pool.query(`select
    (select count(*) from journal_entries) as e,
    (select coalesce(string_agg(account_id||asset||free||'/'||locked, ',' order by account_id, asset), '') from balances) as b,
    (select count(*) from wallet_links) as l, (select count(*) from kyc_history) as k`);
  return r.rows[0];
}

describe("gRPC Wallet service", () => {
  it("reserves, releases, transfers and audits over gRPC", async () => {
    await call("operatorAdjust", {
      adjustmentId: "seed-1",
      accountId: "u1",
      asset: "USDT",
      amount: 5_000n,
      reason: "off-chain deposit ticket 17",
      operator: "ops-kim",
    });
    const r = await call<{ balance: { free: bigint; locked: bigint } }>("reserve", {
      accountId: "u1",
      asset: "USDT",
      amount: 1_200n,
      orderId: "7001",
    });
    expect(r.balance).toEqual({ asset: "USDT", free: 3_800n, locked: 1_200n });
    const rel = await call<{ balance: unknown }>("release", { accountId: "u1", orderId: "7001", amount: 0n });
    expect(rel.balance).toEqual({ asset: "USDT", free: 5_000n, locked: 0n });
    await call("operatorAdjust", {
      adjustmentId: "seed-fees",
      accountId: "sys:fees",
      asset: "USDT",
      amount: 100n,
      reason: "test fees",
      operator: "ops-kim",
    });
    await call("transfer", {
      transferId: "buyback-1",
      fromAccountId: "sys:fees",
      toAccountId: "sys:buyback",
      asset: "USDT",
      amount: 80n,
      reason: "80% buy-back",
    });
    const b = await call<{ balances: unknown[] }>("getBalances", { accountId: "sys:buyback" });
    expect(b.balances).toEqual([{ asset: "USDT", free: 80n, locked: 0n }]);
    const audit = await call<{ assets: { asset: string; balanced: boolean; sumOfBalances: bigint }[] }>(
      "audit",
      {},
    );
    expect(audit.assets.every((a) => a.balanced)).toBe(true);
    expect(audit.assets.find((a) => a.asset === "USDT")?.sumOfBalances).toBe(5_100n);
    expect(await app.runAudit()).toBe(true);
    const metrics = await (await fetch(`${app.ops!.url}/metrics`)).text();
    expect(metrics).toMatch(/wallet_conservation_imbalance\{asset="USDT",service="wallet"\} 0/);
  });

  it("answers bad input with a clear status and changes nothing", async () => {
    await call("reserve", { accountId: "u1", asset: "USDT", amount: 100n, orderId: "7002" });
    const before = await state();
    await fails(
      "reserve",
      { accountId: "u1", asset: "NOPE", amount: 1n, orderId: "x1" },
      status.NOT_FOUND,
      "UNKNOWN_ASSET",
    );
    await fails(
      "reserve",
      { accountId: "u1", asset: "USDT", amount: -1n, orderId: "x2" },
      status.INVALID_ARGUMENT,
      "INVALID_ARGUMENT",
    );
    await fails(
      "reserve",
      { accountId: "u1", asset: "USDT", amount: 0n, orderId: "x3" },
      status.INVALID_ARGUMENT,
      "INVALID_ARGUMENT",
    );
    await fails(
      "reserve",
      { accountId: "", asset: "USDT", amount: 1n, orderId: "x4" },
      status.INVALID_ARGUMENT,
      "INVALID_ARGUMENT",
    );
    await fails(
      "reserve",
      { accountId: "u1", asset: "USDT", amount: 10n ** 9n, orderId: "x5" },
      status.FAILED_PRECONDITION,
      "INSUFFICIENT_BALANCE",
    );
    await fails(
      "release",
      { accountId: "u2", orderId: "7002", amount: 0n },
      status.PERMISSION_DENIED,
      "PERMISSION_DENIED",
    );
    await fails(
      "release",
      { accountId: "u1", orderId: "7002", amount: -3n },
      status.INVALID_ARGUMENT,
      "INVALID_ARGUMENT",
    );
    await fails(
      "transfer",
      { transferId: "t1", fromAccountId: "u1", toAccountId: "u2", asset: "USDT", amount: 1n, reason: "gift" },
      status.PERMISSION_DENIED,
      "PERMISSION_DENIED",
    );
    await fails(
      "operatorAdjust",
      { adjustmentId: "a1", accountId: "u1", asset: "USDT", amount: 5n, reason: "", operator: "ops" },
      status.INVALID_ARGUMENT,
      "INVALID_ARGUMENT",
    );
    await fails("getDailyFees", { day: "yesterday" }, status.INVALID_ARGUMENT, "INVALID_ARGUMENT");
    await fails(
      "setKyc",
      { accountId: "u1", status: KycStatus.UNSPECIFIED, reason: "" },
      status.INVALID_ARGUMENT,
      "INVALID_ARGUMENT",
    );
    await fails(
      "createLinkChallenge",
      { accountId: "u1", address: "0x1234" },
      status.INVALID_ARGUMENT,
      "INVALID_ARGUMENT",
    );
    expect(await state()).toEqual(before);
  });

  it("links a wallet with SIWE, refuses a replayed nonce and a foreign signature, records unlinking", async () => {
    const signer = Wallet.createRandom();
    const other = Wallet.createRandom();
    const ch = await call<{ message: string; nonce: string }>("createLinkChallenge", {
      accountId: "u1",
      address: signer.address.toLowerCase(),
    });
    expect(ch.message).toContain(`Nonce: ${ch.nonce}`);
    expect(ch.message).toContain(signer.address);
    const before = await state();
    // Signed by someone else: refused, nothing changes, the nonce stays usable.
    await fails(
      "linkWallet",
      { accountId: "u1", message: ch.message, signature: await other.signMessage(ch.message) },
      status.PERMISSION_DENIED,
      "PERMISSION_DENIED",
    );
    // Another account presenting u1's challenge: refused.
    const sig = await signer.signMessage(ch.message);
    await fails(
      "linkWallet",
      { accountId: "u2", message: ch.message, signature: sig },
      status.PERMISSION_DENIED,
      "PERMISSION_DENIED",
    );
    await fails(
      "linkWallet",
      { accountId: "u1", message: "hello", signature: sig },
      status.INVALID_ARGUMENT,
      "INVALID_ARGUMENT",
    );
    expect(await state()).toEqual(before);

    expect(await call("linkWallet", { accountId: "u1", message: ch.message, signature: sig })).toEqual({
      address: signer.address,
    });
    const replay = await state();
    await fails(
      "linkWallet",
      { accountId: "u1", message: ch.message, signature: sig },
      status.FAILED_PRECONDITION,
      "FAILED_PRECONDITION",
    );
    expect(await state()).toEqual(replay);

    // One address per account; one account per address.
    const ch2 = await call<{ message: string }>("createLinkChallenge", {
      accountId: "u1",
      address: other.address,
    });
    await fails(
      "linkWallet",
      { accountId: "u1", message: ch2.message, signature: await other.signMessage(ch2.message) },
      status.FAILED_PRECONDITION,
      "FAILED_PRECONDITION",
    );
    const ch3 = await call<{ message: string }>("createLinkChallenge", {
      accountId: "u3",
      address: signer.address,
    });
    await fails(
      "linkWallet",
      { accountId: "u3", message: ch3.message, signature: await signer.signMessage(ch3.message) },
      status.ALREADY_EXISTS,
      "ALREADY_EXISTS",
    );

    expect(await call("getKyc", { accountId: "u1" })).toEqual({
      status: KycStatus.NONE,
      linkedAddress: signer.address,
    });
    await call("unlinkWallet", { accountId: "u1" });
    await fails("unlinkWallet", { accountId: "u1" }, status.NOT_FOUND, "NOT_FOUND");
    const history = await app.identity.linkHistory("u1");
    expect(history).toHaveLength(1);
    expect(history[0]!.unlinkedAt).not.toBeNull();
    // After unlinking, the address can be linked by another account.
    const ch4 = await call<{ message: string }>("createLinkChallenge", {
      accountId: "u3",
      address: signer.address,
    });
    await call("linkWallet", {
      accountId: "u3",
      message: ch4.message,
      signature: await signer.signMessage(ch4.message),
    });
  });

  it("sets KYC through the operator API and the signed provider webhook", async () => {
    await call("setKyc", { accountId: "u3", status: KycStatus.PENDING, reason: "documents uploaded" });
    expect((await call<{ status: KycStatus }>("getKyc", { accountId: "u3" })).status).toBe(KycStatus.PENDING);
    const body = Buffer.from(JSON.stringify({ account_id: "u3", status: "verified", reason: "passport ok" }));
    const bad = await fetch(app.webhookUrl!, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-kyc-signature": signKycWebhook("wrong-secret", body),
      },
      body,
    });
    expect(bad.status).toBe(401);
    expect((await call<{ status: KycStatus }>("getKyc", { accountId: "u3" })).status).toBe(KycStatus.PENDING);
    const ok = await fetch(app.webhookUrl!, {
      method: "POST",
      headers: { "content-type": "application/json", "x-kyc-signature": signKycWebhook(SECRET, body) },
      body,
    });
    expect(ok.status).toBe(200);
    expect((await call<{ status: KycStatus }>("getKyc", { accountId: "u3" })).status).toBe(
      KycStatus.VERIFIED,
    );
    expect((await app.identity.verifiedMembers()).map((m) => m.accountId)).toEqual(["u3"]);
  });

  it("publishes ledger.v1 balance changes from the journal", async () => {
    const published = await app.publisher!.publishOnce();
    expect(published).toBeGreaterThanOrEqual(0);
    const reader = await log.openReader({ topic: "ledger.v1", partition: 0 });
    const all: LedgerEvent[] = [];
    for (let p = 0; p < 8; p++) {
      const r = await log.openReader({ topic: "ledger.v1", partition: p });
      for (;;) {
        const recs = await r.read({ maxWaitMs: 10 });
        if (recs.length === 0) break;
        all.push(...recs.map((x) => LedgerEvent.decode(x.value)));
      }
      await r.close();
    }
    await reader.close();
    const reserve = all.find((e) => e.source === "reserve:7001");
    expect(reserve?.accountId).toBe("u1");
    expect(all.some((e) => e.source === "transfer:buyback-1" && e.accountId === "sys:buyback")).toBe(true);
    expect(all.every((e) => e.accountId !== "@external")).toBe(true);
  });

  it("serves the asset registry and fee rates with per-account overrides applied", async () => {
    const assets = await call<{ assets: { symbol: string; decimals: number }[] }>("getAssets", {});
    expect(assets.assets).toEqual([
      { symbol: "BTC", decimals: 8, contractAddress: "", onChain: false },
      { symbol: "ETH", decimals: 8, contractAddress: "", onChain: false },
      { symbol: "EXT", decimals: 8, contractAddress: "", onChain: false },
      { symbol: "USDT", decimals: 6, contractAddress: "", onChain: false },
    ]);
    const market = {
      symbol: "BTCUSDT",
      makerFeeBps: 10,
      takerFeeBps: 20,
      accountOverride: false,
      upcoming: [],
    };
    const plain = await call<GetFeeRatesResponse>("getFeeRates", { accountId: "fee-u1", symbol: "BTCUSDT" });
    expect(plain.rates).toEqual([market]);
    // Nothing settled yet: no change not listed here can take effect before now + the notice.
    expect(plain.noticeMs).toBe(10_000n);
    expect(plain.stableUntilMs).toBe(plain.atTimeMs + 10_000n);
    expect(Math.abs(Number(plain.atTimeMs) - Date.now())).toBeLessThan(60_000);

    // Overrides take effect as soon as allowed: 10 s after they are made.
    const vip = await app.ledger.setFeeOverride("fee-vip", "*", 0, 5);
    const mm = await app.ledger.setFeeOverride("fee-mm", "BTCUSDT", 1, 2);
    const mmAll = await app.ledger.setFeeOverride("fee-mm", "*", 3, 4);
    expect(vip.effectiveFromMs).toBeGreaterThanOrEqual(Number(plain.atTimeMs) + 10_000);
    const now = await call<GetFeeRatesResponse>("getFeeRates", { accountId: "fee-vip", symbol: "" });
    expect(now.rates).toEqual([
      {
        ...market,
        upcoming: [
          {
            effectiveFromMs: BigInt(vip.effectiveFromMs),
            makerFeeBps: 0,
            takerFeeBps: 5,
            accountOverride: true,
          },
        ],
      },
    ]);
    // At a given time (e.g. a trade's): the rates then, and the changes after it.
    const then = await call<GetFeeRatesResponse>("getFeeRates", {
      accountId: "fee-vip",
      symbol: "",
      atTimeMs: BigInt(vip.effectiveFromMs),
    });
    expect(then).toMatchObject({
      rates: [{ symbol: "BTCUSDT", makerFeeBps: 0, takerFeeBps: 5, accountOverride: true, upcoming: [] }],
      atTimeMs: BigInt(vip.effectiveFromMs),
    });
    // The market's own override wins over the account's every-market one (which changes nothing for it).
    expect(
      (
        await call<GetFeeRatesResponse>("getFeeRates", {
          accountId: "fee-mm",
          symbol: "BTCUSDT",
          atTimeMs: BigInt(mmAll.effectiveFromMs),
        })
      ).rates,
    ).toEqual([{ symbol: "BTCUSDT", makerFeeBps: 1, takerFeeBps: 2, accountOverride: true, upcoming: [] }]);
    expect(
      (await call<GetFeeRatesResponse>("getFeeRates", { accountId: "fee-mm", symbol: "" })).rates,
    ).toEqual([
      {
        ...market,
        upcoming: [
          {
            effectiveFromMs: BigInt(mm.effectiveFromMs),
            makerFeeBps: 1,
            takerFeeBps: 2,
            accountOverride: true,
          },
        ],
      },
    ]);
    await fails("getFeeRates", { accountId: "fee-u1", symbol: "NOPEUSDT" }, status.NOT_FOUND, "NOT_FOUND");
    await fails(
      "getFeeRates",
      { accountId: "bad id!", symbol: "" },
      status.INVALID_ARGUMENT,
      "INVALID_ARGUMENT",
    );
    await fails(
      "getFeeRates",
      { accountId: "fee-u1", symbol: "", atTimeMs: -1n },
      status.INVALID_ARGUMENT,
      "INVALID_ARGUMENT",
    );
  });

  it("schedules fee changes with SetFeeRate (operator) and refuses bad ones, changing nothing", async () => {
    const at = BigInt(Date.now() + 3_600_000);
    const cut = SetFeeRateRequest.fromPartial({
      symbol: "BTCUSDT",
      makerFeeBps: 8,
      takerFeeBps: 16,
      effectiveFromMs: at,
      reason: "fee cut, ticket #12",
      operator: "ops-anna",
    });
    const entry = {
      symbol: "BTCUSDT",
      accountId: "",
      effectiveFromMs: at,
      makerFeeBps: 8,
      takerFeeBps: 16,
      removesOverride: false,
      operator: "ops-anna",
      reason: "fee cut, ticket #12",
    };
    const made = await call<{ entry: { recordedAtMs: bigint } }>("setFeeRate", cut);
    expect(made.entry).toMatchObject(entry);
    expect(Math.abs(Number(made.entry.recordedAtMs) - Date.now())).toBeLessThan(60_000);
    expect(await call("setFeeRate", cut)).toEqual(made); // the same change again: the same entry
    const rates = await call<GetFeeRatesResponse>("getFeeRates", { accountId: "fee-u2", symbol: "BTCUSDT" });
    expect(rates.rates[0]?.upcoming).toEqual([
      { effectiveFromMs: at, makerFeeBps: 8, takerFeeBps: 16, accountOverride: false },
    ]);
    // An account override, operator from the metadata, as soon as allowed; then its end.
    const askedAt = Date.now();
    const md = new Metadata();
    md.set("x-operator", "ops-ben");
    const override = await new Promise<{ entry: { effectiveFromMs: bigint; operator: string } }>(
      (resolve, reject) =>
        client.setFeeRate(
          SetFeeRateRequest.fromPartial({
            symbol: "*",
            accountId: "fee-u2",
            makerFeeBps: 0,
            takerFeeBps: 1,
            reason: "market maker programme",
          }),
          md,
          (e, r) => (e ? reject(e) : resolve(r as never)),
        ),
    );
    expect(override.entry.operator).toBe("ops-ben");
    expect(Number(override.entry.effectiveFromMs)).toBeGreaterThanOrEqual(askedAt + 10_000);
    const ended = await call<{ entry: unknown }>(
      "setFeeRate",
      SetFeeRateRequest.fromPartial({
        symbol: "*",
        accountId: "fee-u2",
        removeOverride: true,
        effectiveFromMs: at + 1n,
        reason: "programme ends",
      }),
    );
    expect(ended.entry).toMatchObject({ removesOverride: true, makerFeeBps: 0, effectiveFromMs: at + 1n });
    expect(
      (await call<GetFeeRatesResponse>("getFeeRates", { accountId: "fee-u2", symbol: "BTCUSDT" })).rates,
    ).toEqual([
      {
        symbol: "BTCUSDT",
        makerFeeBps: 10,
        takerFeeBps: 20,
        accountOverride: false,
        upcoming: [
          {
            effectiveFromMs: override.entry.effectiveFromMs,
            makerFeeBps: 0,
            takerFeeBps: 1,
            accountOverride: true,
          },
          { effectiveFromMs: at + 1n, makerFeeBps: 8, takerFeeBps: 16, accountOverride: false },
        ],
      },
    ]);

    const feeRows = async () =>
      (await app.pool.query("select count(*)::int as n, max(entry_id)::int as last from fee_schedule"))
        .rows[0];
    const before = await feeRows();
    const bad = (patch: Partial<SetFeeRateRequest>) => SetFeeRateRequest.fromPartial({ ...cut, ...patch });
    const INVALID = [status.INVALID_ARGUMENT, "INVALID_ARGUMENT"] as const;
    const e = await fails("setFeeRate", bad({ makerFeeBps: -1 }), ...INVALID);
    expect(e.details).toMatch(/maker_fee_bps must be an integer from 0 to 10000 \(basis points\), got -1/);
    await fails("setFeeRate", bad({ takerFeeBps: 10_001 }), ...INVALID);
    const early = await fails("setFeeRate", bad({ effectiveFromMs: BigInt(Date.now() + 1_000) }), ...INVALID);
    expect(early.details).toMatch(/too early: a fee change takes effect at least 10000 ms after it is made/);
    await fails("setFeeRate", bad({ effectiveFromMs: 1_000n }), ...INVALID); // in the past
    await fails("setFeeRate", bad({ effectiveFromMs: -5n }), ...INVALID);
    await fails("setFeeRate", bad({ symbol: "NOPEUSDT" }), status.NOT_FOUND, "NOT_FOUND");
    await fails("setFeeRate", bad({ symbol: "*" }), ...INVALID); // a market's rates need a market
    await fails("setFeeRate", bad({ accountId: "bad id!" }), ...INVALID);
    await fails("setFeeRate", bad({ reason: "" }), ...INVALID);
    await fails("setFeeRate", bad({ accountId: "fee-u3", removeOverride: true }), ...INVALID); // rates given
    await fails(
      "setFeeRate",
      bad({ accountId: "fee-u3", removeOverride: true, makerFeeBps: 0, takerFeeBps: 0 }),
      status.NOT_FOUND,
      "NOT_FOUND",
    );
    await fails("setFeeRate", bad({ makerFeeBps: 9 }), status.ALREADY_EXISTS, "ALREADY_EXISTS"); // same time
    expect(await feeRows()).toEqual(before);
    const metrics = await (await fetch(`${app.ops!.url}/metrics`)).text();
    expect(metrics).toMatch(/wallet_fee_schedule_changes_total\{scope="account",service="wallet"\} [1-9]/);
    expect(metrics).toMatch(/wallet_fee_schedule_changes_total\{scope="market",service="wallet"\} [1-9]/);
  });

  it("lists deposits; refuses withdrawals it cannot make with a clear status, changing nothing", async () => {
    const tx = `0x${"ab".repeat(32)}`;
    await app.ledger.deposit(`chain:${tx}:eth`, "dep-u1", "ETH", 150_000_000n);
    await app.ledger.deposit("wire-42", "dep-u1", "USDT", 7_000_000n);
    const deps = await call<{ deposits: { timeMs: bigint; creditedTimeMs: bigint }[] }>(
      "listDeposits",
      ListDepositsRequest.fromPartial({ accountId: "dep-u1", limit: 0 }),
    );
    // Not from the chain scanner: listed at (and since) the time they were credited, no block data.
    expect(
      deps.deposits.map((d) => ({
        ...d,
        timeMs: d.timeMs > 0n,
        creditedTimeMs: d.creditedTimeMs === d.timeMs,
      })),
    ).toEqual([
      {
        reference: "wire-42",
        asset: "USDT",
        amount: 7_000_000n,
        txHash: "",
        status: DepositStatus.CREDITED,
        timeMs: true,
        confirmations: 0,
        requiredConfirmations: 0,
        blockNumber: 0n,
        creditedTimeMs: true,
      },
      {
        reference: `chain:${tx}:eth`,
        asset: "ETH",
        amount: 150_000_000n,
        txHash: tx,
        status: DepositStatus.CREDITED,
        timeMs: true,
        confirmations: 0,
        requiredConfirmations: 0,
        blockNumber: 0n,
        creditedTimeMs: true,
      },
    ]);
    const one = await call<{ deposits: unknown[] }>(
      "listDeposits",
      ListDepositsRequest.fromPartial({ accountId: "dep-u1", limit: 1 }),
    );
    expect(one.deposits).toHaveLength(1);
    expect(
      await call("listDeposits", ListDepositsRequest.fromPartial({ accountId: "nobody", limit: 0 })),
    ).toEqual({ deposits: [], nextPageToken: "" });
    expect(
      await call("listWithdrawals", ListWithdrawalsRequest.fromPartial({ accountId: "dep-u1", limit: 0 })),
    ).toEqual({ withdrawals: [], nextPageToken: "" });

    const before = await state();
    const w = { withdrawalId: "wd-1", accountId: "dep-u1", asset: "ETH", amount: 1n, toAddress: "" };
    await fails("requestWithdrawal", { ...w, asset: "NOPE" }, status.NOT_FOUND, "UNKNOWN_ASSET");
    // This app runs without a chain gateway: nothing can go on chain.
    await fails("requestWithdrawal", w, status.FAILED_PRECONDITION, "FAILED_PRECONDITION");
    await fails(
      "listDeposits",
      ListDepositsRequest.fromPartial({ accountId: "dep-u1", limit: 5000 }),
      status.INVALID_ARGUMENT,
      "INVALID_ARGUMENT",
    );
    await fails(
      "listWithdrawals",
      ListWithdrawalsRequest.fromPartial({ accountId: "", limit: 0 }),
      status.INVALID_ARGUMENT,
      "INVALID_ARGUMENT",
    );
    await fails(
      "listDeposits",
      ListDepositsRequest.fromPartial({ accountId: "a b", limit: 0 }),
      status.INVALID_ARGUMENT,
      "INVALID_ARGUMENT",
    );
    expect(await state()).toEqual(before);
  });
});
