import type { LocalChain } from "@excraft/chain/local-chain";
import { errorDetailsOf } from "@excraft/platform";
import {
  type Deposit,
  DepositStatus,
  ListDepositsRequest,
  type ListDepositsResponse,
  ListWithdrawalsRequest,
  type ListWithdrawalsResponse,
  type WalletClient,
  WithdrawalStatus,
} from "@excraft/proto";
import { type ServiceError, status } from "@grpc/grpc-js";
import { type Contract, parseEther, type TransactionReceipt, Wallet } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WalletApp } from "../src/app";
import { type ChainWallet, startChainWallet } from "./chain-fixtures";

// ListDeposits / ListWithdrawals over gRPC: pending chain deposits (seen, not yet confirmed), reorgs,
// paging with filters under concurrent inserts, and refusals. The wallet app runs with its chain
// gateway against an in-process EVM; the gateway's poll timer is set far out and the test drives it.
let chain: LocalChain;
let app: WalletApp;
let client: WalletClient;
let ext: Contract;
let fixture: ChainWallet | undefined;
const CONFIRMATIONS = 3;

beforeAll(async () => {
  // One confirmed block already: the first poll records its progress at once.
  fixture = await startChainWallet({
    database: "wallet_deposit_history",
    confirmations: CONFIRMATIONS,
    withExt: true,
    startBlocksBack: CONFIRMATIONS - 1,
  });
  ({ chain, app, client } = fixture);
  ext = fixture.ext!;
}, 120_000);
afterAll(async () => {
  await fixture?.stop();
});

function deposits(request: Partial<ListDepositsRequest>): Promise<ListDepositsResponse> {
  return new Promise((resolve, reject) =>
    client.listDeposits(ListDepositsRequest.fromPartial(request), (e, r) => (e ? reject(e) : resolve(r))),
  );
}
function withdrawals(request: Partial<ListWithdrawalsRequest>): Promise<ListWithdrawalsResponse> {
  return new Promise((resolve, reject) =>
    client.listWithdrawals(ListWithdrawalsRequest.fromPartial(request), (e, r) =>
      e ? reject(e) : resolve(r),
    ),
  );
}
async function refused(reply: Promise<unknown>, code: status, detail: string, field: string) {
  const e = await reply.then(
    () => undefined,
    (x: ServiceError) => x,
  );
  expect(e, "the request should be refused").toBeDefined();
  expect(e!.code).toBe(code);
  expect(errorDetailsOf(e!.metadata)[0]).toMatchObject({ code: detail, field });
}
/** Everything a refused request could have changed. */
async function state() {
  const r = await app.pool.query(`select
    (select count(*) from journal_entries) as entries,
    (select coalesce(string_agg(account_id||asset||free||'/'||locked, ',' order by account_id, asset), '') from balances) as balances,
    (select coalesce(string_agg(reference||status||confirmations, ',' order by reference), '') from chain_deposits) as chain_deposits,
    (select coalesce(string_agg(withdrawal_id||status, ',' order by withdrawal_id), '') from withdrawals) as withdrawals`);
  return r.rows[0];
}
async function balanceOf(account: string, asset: string) {
  const b = (await app.ledger.balances(account)).find((x) => x.asset === asset);
  return b ? b.free + b.locked : 0n;
}
async function link(account: string, wallet: Wallet) {
  const ch = await app.identity.createLinkChallenge(account, wallet.address);
  await app.identity.linkWallet(account, ch.message, await wallet.signMessage(ch.message));
}
async function metric(name: string): Promise<string> {
  return app.metrics.registry.getSingleMetricAsString(name);
}

describe("pending chain deposits in ListDeposits", () => {
  it("lists a deposit as pending with its confirmations, then credited in the same place; never in a balance before", async () => {
    const [deployer, alice] = chain.wallets as [Wallet, Wallet];
    const gw = app.chain!;
    const hot = await gw.hotAddress();
    await (await deployer.sendTransaction({ to: hot, value: parseEther("1") })).wait(); // gas money, unattributed
    await link("alice", alice);

    // Each transaction mines its own block.
    const ethTx = (await (await alice.sendTransaction({ to: hot, value: parseEther("1") })).wait())!;
    const extTx: TransactionReceipt = await (
      await (ext.connect(alice) as Contract).getFunction("transfer")(hot, parseEther("250"))
    ).wait();
    const extLog = extTx.logs.find((l) => l.address === ext.target)!;
    expect(await gw.pollDeposits()).toBe(0);

    const first = await deposits({ accountId: "alice" });
    expect(first.nextPageToken).toBe("");
    const byRef = (list: Deposit[]) => new Map(list.map((d) => [d.reference, d]));
    const ethRef = `chain:${ethTx.hash}:eth`;
    const extRef = `chain:${extTx.hash}:${extLog.index}`;
    expect(byRef(first.deposits).get(ethRef)).toMatchObject({
      asset: "ETH",
      amount: 100_000_000n,
      txHash: ethTx.hash,
      status: DepositStatus.PENDING,
      confirmations: 2,
      requiredConfirmations: CONFIRMATIONS,
      blockNumber: BigInt(ethTx.blockNumber),
      creditedTimeMs: 0n,
    });
    expect(byRef(first.deposits).get(extRef)).toMatchObject({
      asset: "EXT",
      amount: 25_000_000_000n,
      txHash: extTx.hash,
      status: DepositStatus.PENDING,
      confirmations: 1,
      requiredConfirmations: CONFIRMATIONS,
    });
    expect(first.deposits).toHaveLength(2);
    expect((await deposits({ accountId: "bob" })).deposits).toEqual([]); // never another account's
    // Pending deposits are in no balance and not in the conservation audit.
    expect(await balanceOf("alice", "ETH")).toBe(0n);
    expect(await balanceOf("alice", "EXT")).toBe(0n);
    expect(await app.runAudit()).toBe(true);
    const audit = await app.ledger.audit();
    expect(audit.assets.find((a) => a.asset === "ETH")?.expected).toBe(0n);
    expect(await metric("wallet_chain_deposits_pending")).toMatch(
      /wallet_chain_deposits_pending\{[^}]*\} 2\b/,
    );

    // One more block: ETH reaches the confirmation depth and is credited, keeping its place; EXT waits.
    await chain.mine(1);
    expect(await gw.pollDeposits()).toBe(1);
    const second = byRef((await deposits({ accountId: "alice" })).deposits);
    const ethCredited = second.get(ethRef)!;
    expect(ethCredited).toMatchObject({
      status: DepositStatus.CREDITED,
      confirmations: CONFIRMATIONS,
      timeMs: byRef(first.deposits).get(ethRef)!.timeMs,
    });
    expect(ethCredited.creditedTimeMs).toBeGreaterThanOrEqual(ethCredited.timeMs);
    expect(second.get(extRef)).toMatchObject({ status: DepositStatus.PENDING, confirmations: 2 });
    expect(await balanceOf("alice", "ETH")).toBe(100_000_000n);
    expect(await balanceOf("alice", "EXT")).toBe(0n);

    await chain.mine(1);
    expect(await gw.pollDeposits()).toBe(1);
    const third = await deposits({ accountId: "alice" });
    expect(third.deposits.map((d) => [d.reference, d.status])).toEqual([
      [extRef, DepositStatus.CREDITED],
      [ethRef, DepositStatus.CREDITED],
    ]);
    expect(await balanceOf("alice", "EXT")).toBe(25_000_000_000n);

    // Rescanning from the start credits nothing twice and changes no listing.
    await app.pool.query("update chain_progress set block = 0");
    await chain.mine(1);
    expect(await gw.pollDeposits()).toBe(2); // the two credits, replayed as no-ops
    expect(await deposits({ accountId: "alice" })).toEqual(third);
    expect(await balanceOf("alice", "ETH")).toBe(100_000_000n);
    expect(await app.runAudit()).toBe(true);
  });

  it("marks a pending deposit dropped when a reorg removes it; shows it again if it is mined again", async () => {
    const bob = chain.wallets[2]!;
    await link("bob", bob);
    const gw = app.chain!;
    const hot = await gw.hotAddress();
    const raw = await bob.signTransaction(
      await bob.populateTransaction({ to: hot, value: parseEther("0.5") }),
    );
    const fork = await chain.snapshot();
    const tx = await chain.provider.broadcastTransaction(raw);
    await tx.wait();
    await gw.pollDeposits();
    const ref = `chain:${tx.hash}:eth`;
    expect((await deposits({ accountId: "bob" })).deposits).toMatchObject([
      { reference: ref, status: DepositStatus.PENDING, confirmations: 1 },
    ]);

    // The block holding it is replaced by a longer chain without it.
    await chain.revert(fork);
    await chain.mine(CONFIRMATIONS + 1);
    const before = await state();
    expect(await gw.pollDeposits()).toBe(0);
    const dropped = await deposits({ accountId: "bob" });
    expect(dropped.deposits).toMatchObject([
      { reference: ref, status: DepositStatus.DROPPED, creditedTimeMs: 0n },
    ]);
    expect(await balanceOf("bob", "ETH")).toBe(0n);
    expect((await state()).entries).toBe(before.entries);
    expect(app.chain!.stats.droppedDeposits).toBe(1);
    expect(await metric("wallet_chain_deposits_dropped_total")).toMatch(/ 1\b/);
    expect(await app.runAudit()).toBe(true);

    // The same signed transaction mined again: pending again (same reference, same place), then credited.
    await (await chain.provider.broadcastTransaction(raw)).wait();
    await gw.pollDeposits();
    const again = (await deposits({ accountId: "bob" })).deposits;
    expect(again).toMatchObject([{ reference: ref, status: DepositStatus.PENDING, confirmations: 1 }]);
    expect(again[0]!.timeMs).toBe(dropped.deposits[0]!.timeMs);
    await chain.mine(CONFIRMATIONS - 1);
    expect(await gw.pollDeposits()).toBe(1);
    expect((await deposits({ accountId: "bob" })).deposits).toMatchObject([
      { reference: ref, status: DepositStatus.CREDITED },
    ]);
    expect(await balanceOf("bob", "ETH")).toBe(50_000_000n);
    expect(await app.runAudit()).toBe(true);
  });
});

describe("paging, filters and refusals", () => {
  /** Pages through a list until next_page_token is empty; `between` runs after each page. */
  async function pageAll<T>(
    fetch: (pageToken: string) => Promise<{ items: T[]; next: string }>,
    between: () => Promise<void> = async () => {},
  ): Promise<T[]> {
    const all: T[] = [];
    let token = "";
    for (let pages = 0; pages < 1000; pages++) {
      const p = await fetch(token);
      all.push(...p.items);
      if (p.next === "") return all;
      token = p.next;
      await between();
    }
    throw new Error("paging did not end");
  }

  it("returns every deposit exactly once across pages while deposits are being inserted", async () => {
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    // The first and the last deposit are well apart in time from the rest (for the time-range filter).
    await app.ledger.deposit("pg-first", "pager", "USDT", 1n);
    await sleep(20);
    const batch = Array.from({ length: 150 }, (_, i) => `pg-dep-${i}`);
    await Promise.all(
      batch.map((ref, i) => app.ledger.deposit(ref, "pager", i % 3 === 0 ? "BTC" : "USDT", BigInt(i + 1))),
    );
    const initial = ["pg-first", ...batch];
    await Promise.all([1, 2, 3].map((i) => app.ledger.deposit(`other-dep-${i}`, "other", "USDT", 5n)));

    // Deposits keep arriving (for pager and for another account) while pager pages through its list.
    let next = 0;
    const inserting: Promise<unknown>[] = [];
    const insertSome = async () => {
      for (let k = 0; k < 4; k++) {
        const n = next++;
        inserting.push(app.ledger.deposit(`pg-late-${n}`, "pager", "USDT", 1n));
        inserting.push(app.ledger.deposit(`other-late-${n}`, "other", "USDT", 1n));
      }
    };
    const seen = await pageAll<Deposit>(async (pageToken) => {
      const r = await deposits({ accountId: "pager", limit: 7, pageToken });
      expect(r.deposits.length).toBeLessThanOrEqual(7);
      return { items: r.deposits, next: r.nextPageToken };
    }, insertSome);
    await Promise.all(inserting);
    await sleep(20);
    await app.ledger.deposit("pg-last", "pager", "USDT", 1n);

    const refs = seen.map((d) => d.reference);
    expect(new Set(refs).size).toBe(refs.length); // nothing twice
    for (const ref of initial) expect(refs).toContain(ref); // everything that was there, once
    expect(refs.every((r) => r.startsWith("pg-"))).toBe(true); // never another account's rows
    // Newest first, strictly: (time, reference) descending.
    for (let i = 1; i < seen.length; i++) {
      const a = seen[i - 1]!;
      const b = seen[i]!;
      expect(a.timeMs > b.timeMs || (a.timeMs === b.timeMs && a.reference > b.reference)).toBe(true);
    }

    // A fresh listing sees the late ones too, each once.
    const everything = await pageAll<Deposit>(async (pageToken) => {
      const r = await deposits({ accountId: "pager", limit: 1000, pageToken });
      return { items: r.deposits, next: r.nextPageToken };
    });
    expect(everything.map((d) => d.reference).sort()).toEqual(
      [...initial, "pg-last", ...Array.from({ length: next }, (_, n) => `pg-late-${n}`)].sort(),
    );

    // Filters: asset, status and time range, each equal to filtering the full list; paging keeps them.
    const btc = await pageAll<Deposit>(async (pageToken) => {
      const r = await deposits({ accountId: "pager", asset: "BTC", limit: 9, pageToken });
      return { items: r.deposits, next: r.nextPageToken };
    });
    expect(btc.map((d) => d.reference)).toEqual(
      everything.filter((d) => d.asset === "BTC").map((d) => d.reference),
    );
    expect(btc).toHaveLength(50);
    expect(
      (await deposits({ accountId: "pager", status: DepositStatus.PENDING, limit: 1000 })).deposits,
    ).toEqual([]);
    expect(
      (await deposits({ accountId: "pager", status: DepositStatus.CREDITED, limit: 1000 })).deposits,
    ).toHaveLength(everything.length);
    // Everything after the first deposit and before the last one.
    const fromTimeMs = everything[everything.length - 1]!.timeMs + 1n;
    const toTimeMs = everything[0]!.timeMs;
    expect(everything[everything.length - 1]!.reference).toBe("pg-first");
    expect(everything[0]!.reference).toBe("pg-last");
    const ranged = await pageAll<Deposit>(async (pageToken) => {
      const r = await deposits({ accountId: "pager", fromTimeMs, toTimeMs, limit: 5, pageToken });
      return { items: r.deposits, next: r.nextPageToken };
    });
    expect(ranged.map((d) => d.reference)).toEqual(everything.slice(1, -1).map((d) => d.reference));

    // The other account sees only its own.
    const other = (await deposits({ accountId: "other", limit: 1000 })).deposits.map((d) => d.reference);
    expect(other.every((r) => r.startsWith("other-"))).toBe(true);
    expect(other).toHaveLength(3 + next);
  });

  it("returns every withdrawal exactly once across pages while withdrawals are being requested", async () => {
    const gw = app.chain!;
    const to = Wallet.createRandom().address;
    await app.ledger.deposit("wd-pager-funds", "wd-pager", "ETH", 1_000_000n);
    await app.ledger.deposit("wd-other-funds", "wd-other", "ETH", 1_000_000n);
    const initial = Array.from({ length: 60 }, (_, i) => `pager-w-${i}`);
    for (const id of initial) await gw.requestWithdrawal(id, "wd-pager", "ETH", 10n, to);
    await gw.requestWithdrawal("other-w-0", "wd-other", "ETH", 10n, to);

    let next = 0;
    const requesting: Promise<unknown>[] = [];
    const seen = await pageAll(
      async (pageToken) => {
        const r = await withdrawals({ accountId: "wd-pager", limit: 7, pageToken });
        return { items: r.withdrawals, next: r.nextPageToken };
      },
      async () => {
        const n = next++;
        requesting.push(gw.requestWithdrawal(`pager-late-${n}`, "wd-pager", "ETH", 10n, to));
        requesting.push(gw.requestWithdrawal(`other-late-${n}`, "wd-other", "ETH", 10n, to));
      },
    );
    await Promise.all(requesting);
    const ids = seen.map((w) => w.withdrawalId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of initial) expect(ids).toContain(id);
    expect(ids.every((id) => id.startsWith("pager-"))).toBe(true);
    for (let i = 1; i < seen.length; i++)
      expect(seen[i - 1]!.createdTimeMs >= seen[i]!.createdTimeMs).toBe(true);

    // Status filter (all are still pending: nothing was sent) and an asset filter that matches nothing.
    const pending = await withdrawals({
      accountId: "wd-pager",
      status: WithdrawalStatus.PENDING,
      limit: 1000,
    });
    expect(pending.withdrawals).toHaveLength(initial.length + next);
    expect(
      (await withdrawals({ accountId: "wd-pager", status: WithdrawalStatus.CONFIRMED, limit: 1000 }))
        .withdrawals,
    ).toEqual([]);
    expect((await withdrawals({ accountId: "wd-pager", asset: "EXT", limit: 1000 })).withdrawals).toEqual([]);
    const all = pending.withdrawals;
    const from = all[all.length - 1]!.createdTimeMs;
    const inRange = await withdrawals({ accountId: "wd-pager", fromTimeMs: from + 1n, limit: 1000 });
    expect(inRange.withdrawals.map((w) => w.withdrawalId)).toEqual(
      all.filter((w) => w.createdTimeMs >= from + 1n).map((w) => w.withdrawalId),
    );
  });

  it("refuses bad limits, page tokens and filters with INVALID_ARGUMENT, changing nothing", async () => {
    const before = await state();
    const page1 = await deposits({ accountId: "pager", limit: 3 });
    expect(page1.nextPageToken).not.toBe("");
    const w1 = await withdrawals({ accountId: "wd-pager", limit: 3 });
    expect(w1.nextPageToken).not.toBe("");

    const bad = (request: Partial<ListDepositsRequest>, field: string) =>
      refused(deposits(request), status.INVALID_ARGUMENT, "INVALID_ARGUMENT", field);
    await bad({ accountId: "pager", limit: 1001 }, "limit");
    await bad({ accountId: "pager", limit: 4_000_000_000 }, "limit");
    await bad({ accountId: "pager", pageToken: "not a token!" }, "page_token");
    await bad({ accountId: "pager", pageToken: "eyJ2IjoxfQ" }, "page_token"); // {"v":1}
    await bad({ accountId: "pager", pageToken: `${page1.nextPageToken.slice(0, -4)}AAAA` }, "page_token");
    // A token only continues the listing it came from: not another account's, not other filters.
    await bad({ accountId: "other", pageToken: page1.nextPageToken }, "page_token");
    await bad({ accountId: "pager", asset: "USDT", pageToken: page1.nextPageToken }, "page_token");
    await bad({ accountId: "pager", pageToken: w1.nextPageToken }, "page_token");
    await bad({ accountId: "pager", fromTimeMs: -1n }, "from_time_ms");
    await bad({ accountId: "pager", fromTimeMs: 2_000n, toTimeMs: 1_000n }, "to_time_ms");
    await bad({ accountId: "pager", toTimeMs: 10n ** 18n }, "to_time_ms");
    await bad({ accountId: "pager", status: 42 as DepositStatus }, "status");
    await bad({ accountId: "" }, "account_id");
    await refused(
      deposits({ accountId: "pager", asset: "DOGE" }),
      status.NOT_FOUND,
      "UNKNOWN_ASSET",
      "asset",
    );

    const badW = (request: Partial<ListWithdrawalsRequest>, field: string) =>
      refused(withdrawals(request), status.INVALID_ARGUMENT, "INVALID_ARGUMENT", field);
    await badW({ accountId: "wd-pager", limit: 1001 }, "limit");
    await badW({ accountId: "wd-other", pageToken: w1.nextPageToken }, "page_token");
    await badW({ accountId: "wd-pager", pageToken: page1.nextPageToken }, "page_token");
    await badW({ accountId: "wd-pager", status: 9 as WithdrawalStatus }, "status");
    await badW({ accountId: "wd-pager", toTimeMs: -5n }, "to_time_ms");

    // The tokens still work unchanged, and nothing changed anywhere.
    const page2 = await deposits({ accountId: "pager", limit: 3, pageToken: page1.nextPageToken });
    expect(page2.deposits).toHaveLength(3);
    expect(page2.deposits[0]!.timeMs <= page1.deposits[2]!.timeMs).toBe(true);
    expect(await state()).toEqual(before);
    expect(await app.runAudit()).toBe(true);
  });
});
