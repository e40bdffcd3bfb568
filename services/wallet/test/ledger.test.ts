import type { TradeExecuted } from "@excraft/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WalletError } from "../src/errors";
import { FEE_ACCOUNT } from "../src/state";
import {
  BTCUSDT,
  cancelEvent,
  type Harness,
  OrderStatus,
  order,
  Side,
  startHarness,
  stopHarness,
  tradeEvent,
} from "./fixtures";

let h: Harness;
beforeAll(async () => {
  // The wallet's clock before the engine times of the trades below (fee changes are relative to it).
  h = await startHarness("wallet_ledger", { now: () => 1_763_690_000_000 });
});
afterAll(async () => {
  await stopHarness(h);
});

async function bal(account: string, asset: string) {
  const b = (await h.ledger.balances(account)).find((x) => x.asset === asset);
  return { free: b?.free ?? 0n, locked: b?.locked ?? 0n };
}

async function rejects(p: Promise<unknown>, code: string) {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(WalletError);
  expect((e as WalletError).code).toBe(code);
}

async function snapshot() {
  const r = await h.pool.query(`select
    (select count(*) from journal_entries) as entries, (select count(*) from postings) as postings,
    (select coalesce(string_agg(account_id || asset || free || '/' || locked, ',' order by account_id, asset), '') from balances) as balances,
    (select coalesce(string_agg(order_id || remaining, ',' order by order_id), '') from holds) as holds`);
  return r.rows[0];
}

describe("reserve and release", () => {
  it("locks and returns funds durably, idempotently, and refuses what it must", async () => {
    await h.ledger.deposit("0xtx1:0", "alice", "USDT", 1_000n);
    expect(await h.ledger.reserve("alice", "USDT", 400n, "1")).toEqual({
      asset: "USDT",
      free: 600n,
      locked: 400n,
    });
    // Same order id again: idempotent, one journal entry.
    expect(await h.ledger.reserve("alice", "USDT", 400n, "1")).toEqual({
      asset: "USDT",
      free: 600n,
      locked: 400n,
    });
    const n = await h.pool.query("select count(*)::int as n from journal_entries where source = 'reserve:1'");
    expect(n.rows[0].n).toBe(1);

    const before = await snapshot();
    await rejects(h.ledger.reserve("alice", "USDT", 401n, "1"), "ALREADY_EXISTS");
    await rejects(h.ledger.reserve("bob", "USDT", 400n, "1"), "PERMISSION_DENIED");
    await rejects(h.ledger.reserve("alice", "USDT", 601n, "2"), "INSUFFICIENT_BALANCE");
    await rejects(h.ledger.release("bob", "1", 0n), "PERMISSION_DENIED");
    await rejects(h.ledger.release("alice", "1", 401n), "FAILED_PRECONDITION");
    await rejects(h.ledger.release("alice", "nope", 0n), "NOT_FOUND");
    expect(await snapshot()).toEqual(before);

    expect(await h.ledger.release("alice", "1", 100n)).toEqual({ asset: "USDT", free: 700n, locked: 300n });
    expect(await h.ledger.release("alice", "1", 0n)).toEqual({ asset: "USDT", free: 1_000n, locked: 0n });
    expect(await h.ledger.release("alice", "1", 0n)).toEqual({ asset: "USDT", free: 1_000n, locked: 0n });
    expect((await h.ledger.hold("1"))?.remaining).toBe(0n);
    expect((await h.ledger.audit()).ok).toBe(true);
  });

  it("rejects bad input with a clear error and changes nothing", async () => {
    const before = await snapshot();
    await rejects(h.ledger.reserve("alice", "DOGE", 1n, "9"), "UNKNOWN_ASSET");
    await rejects(h.ledger.reserve("alice", "USDT", -5n, "9"), "INVALID_ARGUMENT");
    await rejects(h.ledger.reserve("alice", "USDT", 0n, "9"), "INVALID_ARGUMENT");
    await rejects(h.ledger.reserve("alice", "USDT", 1n << 63n, "9"), "INVALID_ARGUMENT");
    await rejects(h.ledger.reserve("al ice", "USDT", 1n, "9"), "INVALID_ARGUMENT");
    await rejects(h.ledger.reserve("alice", "USDT", 1n, ""), "INVALID_ARGUMENT");
    await rejects(h.ledger.release("alice", "1", -1n), "INVALID_ARGUMENT");
    await rejects(h.ledger.adjust("a1", "alice", "USDT", 5n, "  ", "op"), "INVALID_ARGUMENT");
    await rejects(h.ledger.transfer("t0", "alice", "bob", "USDT", 1n, "gift"), "PERMISSION_DENIED");
    await rejects(h.ledger.dailyFees("2025-13-45x"), "INVALID_ARGUMENT");
    expect(await snapshot()).toEqual(before);
  });

  it("the database itself refuses negative balances and edits of the journal", async () => {
    await expect(h.pool.query("update balances set free = -1 where account_id = 'alice'")).rejects.toThrow(
      /check constraint/,
    );
    await expect(h.pool.query("update journal_entries set amounts = amounts")).rejects.toThrow(/append-only/);
    // An entry that does not balance is refused by the database itself.
    await expect(
      h.pool.query(`insert into journal_entries values (999999, 'x:1', 'transfer', 0,
        '{a,b}', '{USDT,USDT}', '{free,free}', '{-5,4}')`),
    ).rejects.toThrow(/wallet_entry_balanced|check constraint/);
    await expect(h.pool.query("delete from journal_entries")).rejects.toThrow(/append-only/);
    await expect(
      h.pool.query(
        "insert into holds (order_id, account_id, asset, amount, remaining) values ('x','a','USDT',1,2)",
      ),
    ).rejects.toThrow(/check constraint/);
  });
});

describe("cache divergence", () => {
  it("notices a balance changed behind its back, reloads, and applies every command exactly once", async () => {
    await h.ledger.deposit("0xtx-div", "gus", "USDT", 10_000n);
    await h.ledger.reserve("gus", "USDT", 1n, "div-0"); // gus is now cached
    await h.pool.query("update balances set free = free - 100 where account_id = 'gus' and asset = 'USDT'");
    const results = await Promise.allSettled(
      Array.from({ length: 30 }, (_, i) => h.ledger.reserve("gus", "USDT", 10n, `div-${i + 1}`)),
    );
    expect(results.every((r) => r.status === "fulfilled")).toBe(true);
    expect(await bal("gus", "USDT")).toEqual({ free: 10_000n - 100n - 1n - 300n, locked: 301n });
    await h.pool.query("update balances set free = free + 100 where account_id = 'gus' and asset = 'USDT'");
    const reserves = await h.pool.query(
      "select count(*)::int as n from journal_entries where source like 'reserve:div-%'",
    );
    expect(reserves.rows[0].n).toBe(31);
    expect((await h.ledger.audit()).ok).toBe(true);
  });
});

describe("transfers, operator adjustments, mints and withdrawals", () => {
  it("moves money only with a reason, idempotently, and keeps conservation", async () => {
    await h.ledger.mint("rewards:2025-11-20", "sys:rewards", "EXT", 5_000n, "daily emission");
    await h.ledger.mint("rewards:2025-11-20", "sys:rewards", "EXT", 5_000n, "daily emission");
    await h.ledger.transfer("r1", "sys:rewards", "carol", "EXT", 2_000n, "reward claim");
    await h.ledger.transfer("r1", "sys:rewards", "carol", "EXT", 2_000n, "reward claim");
    expect(await bal("sys:rewards", "EXT")).toEqual({ free: 3_000n, locked: 0n });
    expect(await bal("carol", "EXT")).toEqual({ free: 2_000n, locked: 0n });
    await rejects(
      h.ledger.transfer("r2", "sys:rewards", "carol", "EXT", 3_001n, "too much"),
      "INSUFFICIENT_BALANCE",
    );

    expect(
      await h.ledger.adjust("adj1", "carol", "BTC", 700n, "manual credit ticket #1", "ops-anna"),
    ).toEqual({
      asset: "BTC",
      free: 700n,
      locked: 0n,
    });
    await rejects(
      h.ledger.adjust("adj2", "carol", "BTC", -701n, "debit", "ops-anna"),
      "INSUFFICIENT_BALANCE",
    );
    await h.ledger.adjust("adj3", "carol", "BTC", -200n, "manual debit ticket #2", "ops-anna");
    await h.ledger.withdraw("w1", "carol", "EXT", 500n);
    const audit = await h.ledger.audit();
    expect(audit.ok).toBe(true);
    const ext = audit.assets.find((a) => a.asset === "EXT")!;
    expect(ext).toMatchObject({ sumOfBalances: 4_500n, expected: 4_500n, externalTotal: 4_500n });
    const btc = audit.assets.find((a) => a.asset === "BTC")!;
    expect(btc.expected).toBe(500n);
  });
});

describe("settlement of executions.v1", () => {
  it("settles both legs with maker/taker fees, rounding dust and leftovers; replay changes nothing", async () => {
    await h.ledger.deposit("0xtx-dan", "dan", "USDT", 20_000_000_000n); // 20,000 USDT
    await h.ledger.deposit("0xtx-erin", "erin", "BTC", 50_000_000n); // 0.5 BTC
    // dan buys 0.5 BTC at ≤ 30,000.00 → reserves 15,000 USDT; erin sells 0.5 BTC.
    await h.ledger.reserve("dan", "USDT", 15_000_000_000n, "101");
    await h.ledger.reserve("erin", "BTC", 50_000_000n, "201");
    const sell = { orderId: 201n, accountId: "erin", side: Side.SELL };
    const buy = { orderId: 101n, accountId: "dan", side: Side.BUY };
    const events = [
      tradeEvent(1n, "BTCUSDT", {
        tradeId: 1n,
        price: 2_999_999n, // 29,999.99
        quantity: 333_333n, // 0.333333 BTC
        buyerIsMaker: false,
        maker: order({ ...sell, status: OrderStatus.PARTIALLY_FILLED }),
        taker: order({ ...buy, status: OrderStatus.PARTIALLY_FILLED }),
      }),
      tradeEvent(2n, "BTCUSDT", {
        tradeId: 2n,
        price: 3_000_000n,
        quantity: 166_667n,
        buyerIsMaker: false,
        maker: order({ ...sell, status: OrderStatus.FILLED }),
        taker: order({ ...buy, status: OrderStatus.FILLED }),
      }),
    ];
    expect(await h.ledger.applyExecutions("executions.v1", events)).toEqual({ applied: 2, skipped: 0 });

    // quote: 2,999,999·333,333/100 = 9,999,986,666.67 → buyer pays 9,999,986,667, seller gets 9,999,986,666
    // taker fee 20 bps on 33,333,300 sat = 66,666; maker fee 10 bps on 9,999,986,666 = 9,999,986
    // trade 2: 5,000,010,000 USDT units for 16,666,700 sat; fees 33,333 sat and 5,000,010
    expect(await bal("dan", "BTC")).toEqual({ free: 49_900_001n, locked: 0n });
    expect(await bal("dan", "USDT")).toEqual({ free: 20_000_000_000n - 14_999_996_667n, locked: 0n });
    expect(await bal("erin", "BTC")).toEqual({ free: 0n, locked: 0n });
    expect(await bal("erin", "USDT")).toEqual({ free: 14_984_996_670n, locked: 0n });
    expect(await bal(FEE_ACCOUNT, "BTC")).toEqual({ free: 99_999n, locked: 0n });
    expect(await bal(FEE_ACCOUNT, "USDT")).toEqual({ free: 14_999_997n, locked: 0n });
    expect(await h.ledger.dailyFees("2025-11-21")).toEqual([
      { asset: "BTC", amount: 99_999n },
      { asset: "USDT", amount: 14_999_997n },
    ]);

    const before = await snapshot();
    expect(await h.ledger.applyExecutions("executions.v1", events)).toEqual({ applied: 0, skipped: 2 });
    // A stale epoch is dropped too, even with a new sequence.
    const stale = tradeEvent(
      3n,
      "BTCUSDT",
      { ...(events[0]!.event as { value: TradeExecuted }).value, tradeId: 99n },
      { epoch: 0n },
    );
    expect(await h.ledger.applyExecutions("executions.v1", [stale])).toEqual({ applied: 0, skipped: 1 });
    expect(await snapshot()).toEqual(before);
    expect((await h.ledger.audit()).ok).toBe(true);
  });

  it("applies per-account fee overrides (per market and for every market)", async () => {
    // Fee changes take effect in the future only (see fee-schedule.test.ts): from a minute after the
    // trades above (engine time), which is far ahead of now + the notice on the wallet's clock.
    const from = 1_763_700_060_000;
    expect(h.ledger.earliestFeeChangeMs()).toBeLessThanOrEqual(from);
    await h.ledger.setFeeOverride("ivy", "ETHUSDT", 3, 50, from);
    await h.ledger.setFeeOverride("jon", "*", 50, 5, from);
    await h.ledger.deposit("0xtx-ivy", "ivy", "ETH", 50_000_000n);
    await h.ledger.deposit("0xtx-jon", "jon", "USDT", 1_000_000_000n);
    await h.ledger.reserve("ivy", "ETH", 50_000_000n, "601");
    await h.ledger.reserve("jon", "USDT", 1_000_000_000n, "602");
    const feesBefore = {
      eth: (await bal(FEE_ACCOUNT, "ETH")).free,
      usdt: (await bal(FEE_ACCOUNT, "USDT")).free,
    };
    await h.ledger.applyExecutions("executions.v1", [
      tradeEvent(
        5n,
        "ETHUSDT",
        {
          tradeId: 1n,
          price: 200_000n, // 2,000.00
          quantity: 5_000n, // 0.5 ETH
          buyerIsMaker: false,
          maker: order({ orderId: 601n, accountId: "ivy", side: Side.SELL, status: OrderStatus.FILLED }),
          taker: order({ orderId: 602n, accountId: "jon", side: Side.BUY, status: OrderStatus.FILLED }),
        },
        { timeMs: BigInt(from) },
      ),
    ]);
    // jon (taker, override 5 bps instead of the market's 10) pays 25,000 of 50,000,000 ETH units;
    // ivy (maker, override 3 bps instead of 0) pays 300,000 of 1,000,000,000 USDT units.
    expect(await bal("jon", "ETH")).toEqual({ free: 50_000_000n - 25_000n, locked: 0n });
    expect(await bal("ivy", "USDT")).toEqual({ free: 1_000_000_000n - 300_000n, locked: 0n });
    expect((await bal(FEE_ACCOUNT, "ETH")).free - feesBefore.eth).toBe(25_000n);
    expect((await bal(FEE_ACCOUNT, "USDT")).free - feesBefore.usdt).toBe(300_000n);
  });

  it("releases what a cancelled order no longer needs", async () => {
    await h.ledger.deposit("0xtx-fay", "fay", "USDT", 1_000_000n);
    await h.ledger.reserve("fay", "USDT", 600_000n, "301");
    await h.ledger.applyExecutions("executions.v1", [
      cancelEvent(
        10n,
        "BTCUSDT",
        order({ orderId: 301n, accountId: "fay", side: Side.BUY, status: OrderStatus.CANCELED }),
      ),
    ]);
    expect(await bal("fay", "USDT")).toEqual({ free: 1_000_000n, locked: 0n });
  });

  it("records an exception instead of overdrawing when a trade is not funded", async () => {
    const before = await snapshot();
    const r = await h.ledger.applyExecutions("executions.v1", [
      tradeEvent(11n, "BTCUSDT", {
        tradeId: 50n,
        price: 3_000_000n,
        quantity: 1_000_000n,
        buyerIsMaker: true,
        maker: order({ orderId: 401n, accountId: "ghost-buyer", side: Side.BUY, status: OrderStatus.FILLED }),
        taker: order({
          orderId: 402n,
          accountId: "ghost-seller",
          side: Side.SELL,
          status: OrderStatus.FILLED,
        }),
      }),
    ]);
    expect(r.applied).toBe(1);
    const after = await snapshot();
    expect(after.balances).toBe(before.balances);
    expect(after.entries).toBe(before.entries);
    expect((await h.ledger.exceptions()).map((x) => x.source)).toContain("trade:BTCUSDT:50");
    expect(h.ledger.progress("executions.v1", 0)?.sequence).toBe(11n);
  });

  it("halts (changes nothing, keeps its position) on a trade in an unknown market", async () => {
    const before = await snapshot();
    await expect(
      h.ledger.applyExecutions("executions.v1", [
        tradeEvent(12n, "XYZUSDT", {
          tradeId: 1n,
          price: 1n,
          quantity: 1n,
          buyerIsMaker: true,
          maker: order({ orderId: 501n, accountId: "dan", side: Side.BUY }),
          taker: order({ orderId: 502n, accountId: "erin", side: Side.SELL }),
        }),
      ]),
    ).rejects.toThrow(/unknown market/);
    expect(await snapshot()).toEqual(before);
    expect(h.ledger.progress("executions.v1", 0)?.sequence).toBe(11n);
    expect(BTCUSDT.symbol).toBe("BTCUSDT");
  });
});

describe("restart", () => {
  it("recognises reservations made before a restart (fresh cache) as replays", async () => {
    const { Ledger } = await import("../src/ledger");
    await h.ledger.close();
    h.ledger = await Ledger.open(h.pool);
    const before = await snapshot();
    const replays = await Promise.all([
      h.ledger.reserve("fay", "USDT", 600_000n, "301"), // drained by the cancel: idempotent, no change
      h.ledger.reserve("gus", "USDT", 10n, "div-7"),
      h.ledger.deposit("0xtx-after-restart", "hal", "USDT", 5n), // a new command in the same batch
    ]);
    expect(replays[0]).toEqual({ asset: "USDT", free: 1_000_000n, locked: 0n });
    await rejects(h.ledger.reserve("gus", "USDT", 11n, "div-8"), "ALREADY_EXISTS");
    const after = await snapshot();
    expect(Number(after.entries)).toBe(Number(before.entries) + 1);
    expect((await h.ledger.audit()).ok).toBe(true);
  });
});
