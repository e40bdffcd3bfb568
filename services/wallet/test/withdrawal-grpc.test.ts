import type { LocalChain } from "@excraft/chain/local-chain";
import { errorDetailsOf } from "@excraft/platform";
import {
  DepositStatus,
  ListDepositsRequest,
  ListWithdrawalsRequest,
  type WalletClient,
  WithdrawalStatus,
} from "@excraft/proto";
import { type ServiceError, status } from "@grpc/grpc-js";
import { parseEther } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WalletApp } from "../src/app";
import { type ChainWallet, startChainWallet } from "./chain-fixtures";

// Withdrawals and deposits over gRPC, end to end: the wallet app with its chain gateway against an
// in-process EVM. The gateway's own poll timer is set far out; the test drives its steps itself.
let chain: LocalChain;
let app: WalletApp;
let client: WalletClient;
let fixture: ChainWallet | undefined;
const CONFIRMATIONS = 2;

beforeAll(async () => {
  fixture = await startChainWallet({
    database: "wallet_withdrawals",
    confirmations: CONFIRMATIONS,
    withExt: false,
  });
  ({ chain, app, client } = fixture);
});
afterAll(async () => {
  await fixture?.stop();
});

type Method = keyof typeof WalletClient.service;
function call<Res>(method: Method, request: unknown): Promise<Res> {
  return new Promise((resolve, reject) => {
    // biome-ignore lint/suspicious/noExplicitAny: generic dispatch over the client's unary methods
    (client as any)[method](request, (e: ServiceError | null, r: Res) => (e ? reject(e) : resolve(r)));
  });
}
async function fails(method: Method, request: unknown, code: status, detail: string) {
  const e = await call(method, request).then(
    () => undefined,
    (x: ServiceError) => x,
  );
  expect(e, `${method} should fail`).toBeDefined();
  expect(e!.code).toBe(code);
  expect(errorDetailsOf(e!.metadata)[0]?.code).toBe(detail);
}
async function state() {
  const r = await app.pool.query(`select
    (select count(*) from journal_entries) as e,
    (select coalesce(string_agg(account_id||asset||free||'/'||locked, ',' order by account_id, asset), '') from balances) as b,
    (select coalesce(string_agg(withdrawal_id||account_id||amount||status, ',' order by withdrawal_id), '') from withdrawals) as w,
    (select count(*) from holds) as h`);
  return r.rows[0];
}

describe("withdrawals and deposits over gRPC", () => {
  it("credits a confirmed deposit, holds and pays a withdrawal, refuses bad requests changing nothing", async () => {
    const [deployer, alice, bob] = chain.wallets as [
      (typeof chain.wallets)[0],
      (typeof chain.wallets)[0],
      (typeof chain.wallets)[0],
    ];
    const gw = app.chain!;
    const hot = await gw.hotAddress();
    await (await deployer.sendTransaction({ to: hot, value: parseEther("1") })).wait(); // gas money

    const assets = await call<{ assets: { symbol: string; onChain: boolean }[] }>("getAssets", {});
    expect(assets.assets.filter((a) => a.onChain).map((a) => a.symbol)).toEqual(["ETH"]);

    // alice links her address (SIWE over gRPC), then deposits 1 ETH from it.
    const ch = await call<{ message: string }>("createLinkChallenge", {
      accountId: "alice",
      address: alice.address,
    });
    await call("linkWallet", {
      accountId: "alice",
      message: ch.message,
      signature: await alice.signMessage(ch.message),
    });
    const dep = await (await alice.sendTransaction({ to: hot, value: parseEther("1") })).wait();
    await chain.mine(CONFIRMATIONS);
    expect(await gw.pollDeposits()).toBe(1);
    const deposits = await call<{ deposits: { txHash: string; amount: bigint; status: DepositStatus }[] }>(
      "listDeposits",
      ListDepositsRequest.fromPartial({ accountId: "alice", limit: 0 }),
    );
    expect(deposits.deposits.map((d) => [d.txHash, d.amount, d.status])).toEqual([
      [dep!.hash, 100_000_000n, DepositStatus.CREDITED],
    ]);

    // Bad requests: a clear status each, and nothing changes.
    const before = await state();
    const w = {
      withdrawalId: "wd-1",
      accountId: "alice",
      asset: "ETH",
      amount: 40_000_000n,
      toAddress: bob.address,
    };
    await fails("requestWithdrawal", { ...w, asset: "DOGE" }, status.NOT_FOUND, "UNKNOWN_ASSET");
    await fails(
      "requestWithdrawal",
      { ...w, asset: "USDT" },
      status.FAILED_PRECONDITION,
      "FAILED_PRECONDITION",
    );
    await fails("requestWithdrawal", { ...w, amount: -5n }, status.INVALID_ARGUMENT, "INVALID_ARGUMENT");
    await fails("requestWithdrawal", { ...w, amount: 0n }, status.INVALID_ARGUMENT, "INVALID_ARGUMENT");
    await fails(
      "requestWithdrawal",
      { ...w, toAddress: "0x1234" },
      status.INVALID_ARGUMENT,
      "INVALID_ARGUMENT",
    );
    await fails("requestWithdrawal", { ...w, withdrawalId: "" }, status.INVALID_ARGUMENT, "INVALID_ARGUMENT");
    await fails("requestWithdrawal", { ...w, accountId: "" }, status.INVALID_ARGUMENT, "INVALID_ARGUMENT");
    await fails(
      "requestWithdrawal",
      { ...w, amount: 10n ** 12n },
      status.FAILED_PRECONDITION,
      "INSUFFICIENT_BALANCE",
    );
    expect(await state()).toEqual(before);

    // The withdrawal: held at once, idempotent by id, foreign to every other account.
    const r = await call<{ withdrawal: { status: WithdrawalStatus; txHash: string }; balance: unknown }>(
      "requestWithdrawal",
      w,
    );
    expect(r.withdrawal).toMatchObject({
      withdrawalId: "wd-1",
      status: WithdrawalStatus.PENDING,
      txHash: "",
    });
    expect(r.balance).toEqual({ asset: "ETH", free: 60_000_000n, locked: 40_000_000n });
    const replay = await call<typeof r>("requestWithdrawal", w);
    expect(replay.withdrawal).toEqual(r.withdrawal);
    const held = await state();
    await fails(
      "requestWithdrawal",
      { ...w, accountId: "mallory" },
      status.PERMISSION_DENIED,
      "PERMISSION_DENIED",
    );
    await fails("requestWithdrawal", { ...w, amount: 1n }, status.ALREADY_EXISTS, "ALREADY_EXISTS");
    expect(await state()).toEqual(held);
    expect(
      await call("listWithdrawals", ListWithdrawalsRequest.fromPartial({ accountId: "mallory", limit: 0 })),
    ).toEqual({ withdrawals: [], nextPageToken: "" });

    // The chain gateway signs, stores and broadcasts it; once deep enough the hold is paid out.
    const bobBefore = await chain.provider.getBalance(bob.address);
    expect(await gw.sendPending()).toBe(1);
    type List = { withdrawals: { status: WithdrawalStatus; txHash: string; amount: bigint }[] };
    const sent = await call<List>(
      "listWithdrawals",
      ListWithdrawalsRequest.fromPartial({ accountId: "alice", limit: 0 }),
    );
    expect(sent.withdrawals[0]?.status).toBe(WithdrawalStatus.SENT);
    expect(sent.withdrawals[0]?.txHash).toMatch(/^0x[0-9a-f]{64}$/);
    await chain.mine(CONFIRMATIONS);
    expect(await gw.confirmSent()).toEqual({ confirmed: 1, failed: 0 });
    const done = await call<List>(
      "listWithdrawals",
      ListWithdrawalsRequest.fromPartial({ accountId: "alice", limit: 0 }),
    );
    expect(done.withdrawals.map((x) => [x.status, x.amount, x.txHash])).toEqual([
      [WithdrawalStatus.CONFIRMED, 40_000_000n, sent.withdrawals[0]!.txHash],
    ]);
    expect((await chain.provider.getBalance(bob.address)) - bobBefore).toBe(parseEther("0.4"));
    expect(await call("getBalances", { accountId: "alice" })).toEqual({
      balances: [{ asset: "ETH", free: 60_000_000n, locked: 0n }],
    });
    expect(await app.runAudit()).toBe(true);
  });
});
