/**
 * The fee schedule: a trade is charged the rates in force at its own (engine) time, changes only take
 * effect in the future (after FEE_CHANGE_NOTICE_MS and after every event settled), the schedule
 * survives a restart, old rows migrate into it, and replaying the same executions.v1 events into a
 * fresh database that has the same schedule books exactly the same balances and fees.
 */
import type { ExecutionEvent } from "@excraft/proto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WalletError } from "../src/errors";
import type { FeeScheduleEntry } from "../src/fees";
import { Ledger } from "../src/ledger";
import { migrate } from "../src/schema";
import {
  ASSETS,
  BTCUSDT,
  ETHUSDT,
  type Harness,
  order,
  Side,
  startHarness,
  stopHarness,
  tradeEvent,
} from "./fixtures";

/** The wallet's clock in these tests (engine times of the trades are given explicitly). */
const T0 = 1_800_000_000_000;
let clock = T0;
const now = () => clock;

let h: Harness;
const extraPools: pg.Pool[] = [];
const extraLedgers: Ledger[] = [];
beforeAll(async () => {
  h = await startHarness("wallet_fees", { now, feeChangeNoticeMs: 10_000 });
});
afterAll(async () => {
  for (const l of extraLedgers) await l.close();
  for (const p of extraPools) await p.end();
  await stopHarness(h);
});

/** A fresh, migrated database of the same PostgreSQL server. */
async function freshPool(name: string): Promise<pg.Pool> {
  const pool = new pg.Pool({ connectionString: await h.pgServer.createDatabase(name), max: 8 });
  pool.on("error", () => {});
  extraPools.push(pool);
  await migrate(pool);
  return pool;
}

/** A ledger on a fresh database, with the fixtures' assets. */
async function freshLedger(name: string, clockOf: () => number): Promise<{ pool: pg.Pool; ledger: Ledger }> {
  const pool = await freshPool(name);
  const ledger = await Ledger.open(pool, { now: clockOf });
  extraLedgers.push(ledger);
  for (const a of ASSETS) await ledger.registerAsset(a);
  return { pool, ledger };
}

/** A BTCUSDT trade of 0.1 BTC at 30,000.00: 10,000,000 sat against 3,000,000,000 USDT units, no dust. */
function btcTrade(
  sequence: bigint,
  tradeId: bigint,
  timeMs: number,
  p: { buyer: string; seller: string; buyerIsMaker: boolean },
): ExecutionEvent {
  const buy = order({ orderId: 9000n + tradeId * 2n, accountId: p.buyer, side: Side.BUY });
  const sell = order({ orderId: 9001n + tradeId * 2n, accountId: p.seller, side: Side.SELL });
  return tradeEvent(
    sequence,
    "BTCUSDT",
    {
      tradeId,
      price: 3_000_000n,
      quantity: 100_000n,
      buyerIsMaker: p.buyerIsMaker,
      maker: p.buyerIsMaker ? buy : sell,
      taker: p.buyerIsMaker ? sell : buy,
    },
    { timeMs: BigInt(timeMs) },
  );
}

/** What the fee account received in one trade, per asset. */
async function tradeFees(pool: pg.Pool, tradeId: bigint): Promise<{ BTC: bigint; USDT: bigint }> {
  const r = await pool.query(
    "select accounts, assets, amounts::text[] as amounts from journal_entries where source = $1",
    [`trade:BTCUSDT:${tradeId}`],
  );
  expect(r.rows, `trade ${tradeId} settled`).toHaveLength(1);
  const fees = { BTC: 0n, USDT: 0n };
  const e = r.rows[0] as { accounts: string[]; assets: ("BTC" | "USDT")[]; amounts: string[] };
  e.accounts.forEach((account, i) => {
    if (account === "sys:fees") fees[e.assets[i]!] += BigInt(e.amounts[i]!);
  });
  return fees;
}

async function refused(p: Promise<unknown>, code: string, field: string, message?: RegExp) {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e, `should be refused with ${code}`).toBeInstanceOf(WalletError);
  expect((e as WalletError).code).toBe(code);
  expect((e as WalletError).field).toBe(field);
  if (message) expect((e as WalletError).message).toMatch(message);
}

const scheduleRows = async (pool: pg.Pool) =>
  (await pool.query("select * from fee_schedule order by entry_id")).rows.map((r) => JSON.stringify(r));

let sequence = 0n;
const next = () => ++sequence;

describe("fee schedule", () => {
  it("charges each trade the rates in force at its own time, however late it is settled", async () => {
    await h.ledger.deposit("fund-tb", "tb", "USDT", 100_000_000_000n);
    await h.ledger.deposit("fund-ts", "ts", "BTC", 1_000_000_000n);
    // Configured BTCUSDT: maker 10, taker 20 bps, since the beginning (first registration).
    const cut = await h.ledger.setFeeRate({
      symbol: "BTCUSDT",
      accountId: "",
      makerFeeBps: 5,
      takerFeeBps: 30,
      actor: "ops-anna",
      reason: "new market rates",
    });
    expect(cut).toMatchObject({
      effectiveFromMs: T0 + 10_000,
      makerFeeBps: 5,
      takerFeeBps: 30,
      actor: "ops-anna",
    });
    const vip = await h.ledger.setFeeOverride("tb", "BTCUSDT", 1, 2, T0 + 15_000);
    expect(vip.effectiveFromMs).toBe(T0 + 15_000);

    // What a client sees now: the rates in force and every change scheduled.
    expect(h.ledger.feeRates("tb", "BTCUSDT")).toEqual([
      {
        symbol: "BTCUSDT",
        makerFeeBps: 10,
        takerFeeBps: 20,
        accountOverride: false,
        upcoming: [
          { effectiveFromMs: T0 + 10_000, makerFeeBps: 5, takerFeeBps: 30, accountOverride: false },
          { effectiveFromMs: T0 + 15_000, makerFeeBps: 1, takerFeeBps: 2, accountOverride: true },
        ],
      },
    ]);
    expect(h.ledger.feeRates("ts", "BTCUSDT", T0 + 15_000)).toEqual([
      { symbol: "BTCUSDT", makerFeeBps: 5, takerFeeBps: 30, accountOverride: false, upcoming: [] },
    ]);

    // Settled well after all three times (the settlement clock does not matter, the trade's time does).
    clock = T0 + 20_000;
    const taker = { buyer: "tb", seller: "ts", buyerIsMaker: false }; // tb takes (pays BTC), ts makes (pays USDT)
    await h.ledger.applyExecutions("executions.v1", [
      btcTrade(next(), 1n, T0 + 9_999, taker),
      btcTrade(next(), 2n, T0 + 10_000, taker),
      btcTrade(next(), 3n, T0 + 15_000, taker),
    ]);
    // 10,000,000 sat × taker bps; 3,000,000,000 USDT units × maker bps.
    expect(await tradeFees(h.pool, 1n)).toEqual({ BTC: 20_000n, USDT: 3_000_000n }); // 20 / 10
    expect(await tradeFees(h.pool, 2n)).toEqual({ BTC: 30_000n, USDT: 1_500_000n }); // 30 / 5
    expect(await tradeFees(h.pool, 3n)).toEqual({ BTC: 2_000n, USDT: 1_500_000n }); // tb's override 2 / 5
    expect((await h.ledger.audit()).ok).toBe(true);
  });

  it("refuses a change with too little notice, in the past or malformed, changing nothing", async () => {
    // The newest trade settled is at T0 + 15,000 (engine time); the wallet clock is at T0 + 20,000.
    const before = await scheduleRows(h.pool);
    const ratesBefore = h.ledger.feeRates("tb");
    const change = {
      symbol: "ETHUSDT",
      accountId: "",
      makerFeeBps: 2,
      takerFeeBps: 4,
      actor: "ops",
      reason: "r",
    };
    expect(h.ledger.earliestFeeChangeMs()).toBe(T0 + 30_000);
    await refused(
      h.ledger.setFeeRate({ ...change, effectiveFromMs: T0 + 29_999 }),
      "INVALID_ARGUMENT",
      "effective_from_ms",
      /too early: a fee change takes effect at least 10000 ms after it is made .* earliest allowed now is 1800000030000/,
    );
    await refused(
      h.ledger.setFeeRate({ ...change, effectiveFromMs: T0 - 1 }),
      "INVALID_ARGUMENT",
      "effective_from_ms",
    );
    await refused(
      h.ledger.setFeeRate({ ...change, effectiveFromMs: -1 }),
      "INVALID_ARGUMENT",
      "effective_from_ms",
    );
    await refused(
      h.ledger.setFeeRate({ ...change, makerFeeBps: -1 }),
      "INVALID_ARGUMENT",
      "maker_fee_bps",
      /from 0 to 10000 \(basis points\), got -1/,
    );
    await refused(
      h.ledger.setFeeRate({ ...change, takerFeeBps: 10_001 }),
      "INVALID_ARGUMENT",
      "taker_fee_bps",
    );
    await refused(h.ledger.setFeeRate({ ...change, takerFeeBps: 2.5 }), "INVALID_ARGUMENT", "taker_fee_bps");
    await refused(
      h.ledger.setFeeRate({ ...change, symbol: "NOPEUSDT" }),
      "NOT_FOUND",
      "symbol",
      /unknown market/,
    );
    await refused(h.ledger.setFeeRate({ ...change, symbol: "" }), "INVALID_ARGUMENT", "symbol");
    await refused(h.ledger.setFeeRate({ ...change, symbol: "*" }), "INVALID_ARGUMENT", "symbol");
    await refused(h.ledger.setFeeOverride("bad id!", "ETHUSDT", 1, 1), "INVALID_ARGUMENT", "account_id");
    await refused(h.ledger.setFeeRate({ ...change, reason: " " }), "INVALID_ARGUMENT", "reason");
    await refused(
      h.ledger.setFeeRate({ ...change, accountId: "", makerFeeBps: null, takerFeeBps: null }),
      "INVALID_ARGUMENT",
      "account_id",
    );
    await refused(h.ledger.removeFeeOverride("nobody", "ETHUSDT"), "NOT_FOUND", "symbol", /no fee override/);
    expect(await scheduleRows(h.pool)).toEqual(before);

    // A scheduled change is final: another one at the same time is refused, the same one again is a no-op.
    const planned = await h.ledger.setFeeRate({ ...change, effectiveFromMs: T0 + 40_000 });
    const rows = await scheduleRows(h.pool);
    expect(rows).toHaveLength(before.length + 1);
    await refused(
      h.ledger.setFeeRate({ ...change, makerFeeBps: 3, effectiveFromMs: T0 + 40_000 }),
      "ALREADY_EXISTS",
      "effective_from_ms",
    );
    expect(await h.ledger.setFeeRate({ ...change, effectiveFromMs: T0 + 40_000 })).toEqual(planned);
    // The same rates later than they already apply: nothing to record.
    expect(await h.ledger.setFeeRate({ ...change, effectiveFromMs: T0 + 50_000 })).toEqual(planned);

    // A trade from an engine clock ahead of the wallet's: no change may take effect at or before it.
    await h.ledger.applyExecutions("executions.v1", [
      btcTrade(next(), 4n, T0 + 60_000, { buyer: "tb", seller: "ts", buyerIsMaker: true }),
    ]);
    expect(h.ledger.earliestFeeChangeMs()).toBe(T0 + 60_001);
    await refused(
      h.ledger.setFeeRate({ ...change, makerFeeBps: 9, effectiveFromMs: T0 + 45_000 }),
      "INVALID_ARGUMENT",
      "effective_from_ms",
      /after every trade already settled; the earliest allowed now is 1800000060001/,
    );
    expect(await scheduleRows(h.pool)).toEqual(rows);
    expect(h.ledger.feeRates("tb", "BTCUSDT")).toEqual(ratesBefore.filter((r) => r.symbol === "BTCUSDT"));
    // The database refuses to rewrite history too.
    await expect(h.pool.query("update fee_schedule set maker_fee_bps = 0")).rejects.toThrow(/append-only/);
    await expect(h.pool.query("delete from fee_schedule")).rejects.toThrow(/append-only/);
  });

  it("keeps the schedule across a restart and charges it after the restart", async () => {
    clock = T0 + 100_000;
    const end = await h.ledger.removeFeeOverride("tb", "BTCUSDT");
    expect(end).toMatchObject({ effectiveFromMs: T0 + 110_000, makerFeeBps: null, takerFeeBps: null });
    await h.ledger.setFeeRate({
      symbol: "BTCUSDT",
      accountId: "",
      makerFeeBps: 8,
      takerFeeBps: 8,
      effectiveFromMs: T0 + 120_000,
      actor: "ops-anna",
      reason: "flat rate",
    });
    const schedule = h.ledger.feeSchedule();
    const rates = h.ledger.feeRates("tb");
    expect(rates.find((r) => r.symbol === "BTCUSDT")).toEqual({
      symbol: "BTCUSDT",
      makerFeeBps: 1,
      takerFeeBps: 2,
      accountOverride: true,
      upcoming: [
        { effectiveFromMs: T0 + 110_000, makerFeeBps: 5, takerFeeBps: 30, accountOverride: false },
        { effectiveFromMs: T0 + 120_000, makerFeeBps: 8, takerFeeBps: 8, accountOverride: false },
      ],
    });

    await h.ledger.close();
    h.ledger = await Ledger.open(h.pool, { now, feeChangeNoticeMs: 10_000 });
    expect(h.ledger.feeSchedule()).toEqual(schedule);
    expect(h.ledger.feeRates("tb")).toEqual(rates);
    // The newest event time settled survives too (T0 + 60,000 < now + notice here).
    expect(h.ledger.earliestFeeChangeMs()).toBe(T0 + 110_000);

    const taker = { buyer: "tb", seller: "ts", buyerIsMaker: false };
    await h.ledger.applyExecutions("executions.v1", [
      btcTrade(next(), 5n, T0 + 109_999, taker),
      btcTrade(next(), 6n, T0 + 110_000, taker),
      btcTrade(next(), 7n, T0 + 120_000, taker),
    ]);
    expect(await tradeFees(h.pool, 5n)).toEqual({ BTC: 2_000n, USDT: 1_500_000n }); // override 2 / market 5
    expect(await tradeFees(h.pool, 6n)).toEqual({ BTC: 30_000n, USDT: 1_500_000n }); // override ended: 30 / 5
    expect(await tradeFees(h.pool, 7n)).toEqual({ BTC: 8_000n, USDT: 2_400_000n }); // 8 / 8
    expect(h.ledger.earliestFeeChangeMs()).toBe(T0 + 120_001);
  });

  it("configuration applies rates once: a new market from the beginning, a changed one as a change", async () => {
    const before = h.ledger.feeSchedule().length;
    await h.ledger.configureMarket(BTCUSDT); // unchanged configuration (10/20): the schedule stands
    expect(h.ledger.feeSchedule()).toHaveLength(before);
    expect(h.ledger.feeRates("x", "BTCUSDT", T0 + 120_000)[0]).toMatchObject({
      makerFeeBps: 8,
      takerFeeBps: 8,
    });
    clock = T0 + 200_000;
    await h.ledger.configureMarket({ ...ETHUSDT, takerFeeBps: 12 }); // edited configuration
    expect(h.ledger.feeSchedule().slice(before)).toMatchObject([
      { accountId: "", symbol: "ETHUSDT", effectiveFromMs: T0 + 210_000, makerFeeBps: 0, takerFeeBps: 12 },
    ]);
    await h.ledger.configureMarket({ ...ETHUSDT, takerFeeBps: 12 }); // the same again: nothing
    expect(h.ledger.feeSchedule()).toHaveLength(before + 1);
  });

  it("a change racing settlement never reprices a trade: it is refused, or the trade pays the new rate", async () => {
    // Trades from an engine clock ahead of the wallet's, at exactly the time the change asks for: if the
    // trade is settled first the change is too early; if the change is recorded first the trade pays it.
    let outcomes = "";
    for (let i = 0; i < 12; i++) {
      const at = T0 + 300_000 + i * 1_000;
      const tradeId = 100n + BigInt(i);
      const settle = () =>
        h.ledger.applyExecutions("executions.v1", [
          btcTrade(next(), tradeId, at, { buyer: "tb", seller: "ts", buyerIsMaker: false }),
        ]);
      const change = () => h.ledger.setFeeOverride("tb", "BTCUSDT", 0, i + 40, at);
      // Both orders of arrival (each call is queued at once, before the other one starts).
      const [settled, changed] =
        i % 2 === 0
          ? await Promise.allSettled([settle(), change()])
          : await Promise.allSettled([change(), settle()]).then(([c, s]) => [s, c] as const);
      expect(settled.status).toBe("fulfilled");
      const fee = (await tradeFees(h.pool, tradeId)).BTC;
      if (changed.status === "fulfilled") {
        expect(fee).toBe(BigInt(1_000 * (i + 40))); // the new taker rate, i + 40 bps of 10,000,000 sat
        outcomes += "c";
      } else {
        expect((changed.reason as WalletError).field).toBe("effective_from_ms");
        expect(fee).not.toBe(BigInt(1_000 * (i + 40)));
        outcomes += "s";
      }
      // Either way the schedule and the ledger agree on this trade for good.
      expect(h.ledger.feeRates("tb", "BTCUSDT", at)[0]!.takerFeeBps * 1_000).toBe(Number(fee));
    }
    expect(outcomes).toContain("c");
    expect(outcomes).toContain("s");
  });

  it("migrates the rates kept before the schedule existed, once", async () => {
    const pool = await freshPool("wallet_fees_legacy");
    // Rows as the previous version kept them (no schedule entry for these scopes).
    await pool.query(
      `insert into markets (symbol, base_asset, quote_asset, price_scale, quantity_scale, maker_fee_bps, taker_fee_bps)
       values ('OLDUSDT', 'BTC', 'USDT', 2, 6, 7, 9)`,
    );
    await pool.query(`insert into fee_overrides values ('old-vip', '*', 1, 3), ('old-vip', 'OLDUSDT', 0, 2)`);
    await migrate(pool);
    await migrate(pool);
    const rows = (
      await pool.query(
        "select account_id, symbol, effective_from_ms, maker_fee_bps, taker_fee_bps, actor from fee_schedule order by entry_id",
      )
    ).rows;
    expect(rows).toEqual([
      {
        account_id: "",
        symbol: "OLDUSDT",
        effective_from_ms: "0",
        maker_fee_bps: 7,
        taker_fee_bps: 9,
        actor: "configuration",
      },
      {
        account_id: "old-vip",
        symbol: "*",
        effective_from_ms: "0",
        maker_fee_bps: 1,
        taker_fee_bps: 3,
        actor: "migration",
      },
      {
        account_id: "old-vip",
        symbol: "OLDUSDT",
        effective_from_ms: "0",
        maker_fee_bps: 0,
        taker_fee_bps: 2,
        actor: "migration",
      },
    ]);
    const ledger = await Ledger.open(pool, { now });
    extraLedgers.push(ledger);
    expect(ledger.feeRates("old-vip", "OLDUSDT")[0]).toMatchObject({ makerFeeBps: 0, takerFeeBps: 2 });
    expect(ledger.feeRates("someone", "OLDUSDT")[0]).toMatchObject({ makerFeeBps: 7, takerFeeBps: 9 });
  });
});

describe("rebuilding a ledger by replaying executions.v1", () => {
  it("books byte-identical balances and fees in a fresh database after the rates changed", async () => {
    const S0 = T0 + 1_000_000;
    let clockA = S0;
    const a = await freshLedger("wallet_fees_replay_a", () => clockA);
    await a.ledger.configureMarket(BTCUSDT);
    await a.ledger.configureMarket(ETHUSDT);
    const deposits: [string, string, string, bigint][] = [
      ["r-alice", "alice", "USDT", 1_000_000_000_000n],
      ["r-bob", "bob", "BTC", 10_000_000_000n],
      ["r-vip-u", "vip", "USDT", 1_000_000_000_000n],
      ["r-vip-b", "vip", "BTC", 10_000_000_000n],
    ];
    for (const [ref, account, asset, amount] of deposits) await a.ledger.deposit(ref, account, asset, amount);

    let seq = 0n;
    const events: ExecutionEvent[] = [];
    const roles = [
      { buyer: "alice", seller: "bob", buyerIsMaker: false },
      { buyer: "vip", seller: "bob", buyerIsMaker: true },
      { buyer: "alice", seller: "vip", buyerIsMaker: false },
    ];
    const trades = (times: number[]) =>
      times.map((t) => {
        seq++;
        const ev = btcTrade(seq, seq, t, roles[Number(seq) % 3]!);
        events.push(ev);
        return ev;
      });

    await a.ledger.applyExecutions("executions.v1", trades([S0 + 1_000, S0 + 2_000, S0 + 3_000]));
    // The rates change while the exchange runs.
    clockA = S0 + 4_000;
    await a.ledger.setFeeRate({
      symbol: "BTCUSDT",
      accountId: "",
      makerFeeBps: 5,
      takerFeeBps: 30,
      actor: "ops",
      reason: "new rates",
    }); // from S0 + 14,000
    await a.ledger.setFeeOverride("vip", "*", 0, 3); // from S0 + 14,000
    await a.ledger.setFeeRate({
      symbol: "BTCUSDT",
      accountId: "",
      makerFeeBps: 7,
      takerFeeBps: 7,
      effectiveFromMs: S0 + 25_000,
      actor: "ops",
      reason: "flat",
    });
    await a.ledger.removeFeeOverride("vip", "*", S0 + 30_000);
    await a.ledger.applyExecutions("executions.v1", trades([S0 + 5_000, S0 + 14_000, S0 + 20_000]));
    clockA = S0 + 40_000;
    await a.ledger.applyExecutions("executions.v1", trades([S0 + 26_000, S0 + 31_000, S0 + 35_000]));
    // Every period is exercised: 10/20 (trades 1–4, #4 settled after the change was made), 5/30 with vip's
    // 0/3 override (5, 6), 7/7 with the override (7), 7/7 after the override ended (8, 9).
    const feesA = await Promise.all(events.map((_, i) => tradeFees(a.pool, BigInt(i + 1))));
    expect(feesA.map((f) => [f.BTC, f.USDT])).toEqual([
      [10_000n, 6_000_000n], // vip buys as maker (10 bps of 0.1 BTC), bob sells as taker (20 bps of 3,000 USDT)
      [20_000n, 3_000_000n], // alice buys as taker, vip sells as maker
      [20_000n, 3_000_000n], // alice taker, bob maker
      [10_000n, 6_000_000n],
      [30_000n, 0n], // alice taker 30, vip maker 0 (override)
      [30_000n, 1_500_000n], // alice taker 30, bob maker 5
      [0n, 2_100_000n], // vip maker 0 (override), bob taker 7
      [7_000n, 2_100_000n], // alice taker 7, vip maker 7 (override ended)
      [7_000n, 2_100_000n],
    ]);

    // Much later, a fresh database: the same schedule and configuration, then the whole stream at once.
    const b = await freshLedger("wallet_fees_replay_b", () => S0 + 10_000_000);
    expect(await b.ledger.importFeeSchedule(a.ledger.feeSchedule())).toBe(a.ledger.feeSchedule().length);
    await b.ledger.configureMarket(BTCUSDT);
    await b.ledger.configureMarket(ETHUSDT);
    const strip = (e: FeeScheduleEntry) => ({ ...e, entryId: 0 });
    expect(b.ledger.feeSchedule().map(strip)).toEqual(a.ledger.feeSchedule().map(strip));
    for (const [ref, account, asset, amount] of deposits) await b.ledger.deposit(ref, account, asset, amount);
    expect(await b.ledger.applyExecutions("executions.v1", events)).toEqual({
      applied: events.length,
      skipped: 0,
    });

    const books = async (pool: pg.Pool) => {
      const r = await pool.query(`select
        (select string_agg(account_id || ' ' || asset || ' ' || free || ' ' || locked, E'\\n' order by account_id, asset) from balances) as balances,
        (select string_agg(day || ' ' || asset || ' ' || amount, E'\\n' order by day, asset) from fee_daily) as fee_daily,
        (select string_agg(source || ' ' || time_ms || ' ' || accounts::text || assets::text || buckets::text || amounts::text, E'\\n' order by source)
           from journal_entries where kind = 'trade') as trades,
        (select count(*) from settlement_exceptions) as exceptions`);
      return r.rows[0];
    };
    const booksA = await books(a.pool);
    expect(booksA.exceptions).toBe("0");
    expect(await books(b.pool)).toEqual(booksA);
    // Importing into a ledger that has settled those events already would change history: refused.
    await refused(
      b.ledger.importFeeSchedule([
        { ...a.ledger.feeSchedule()[0]!, effectiveFromMs: S0 + 1_000, symbol: "ETHUSDT" },
      ]),
      "FAILED_PRECONDITION",
      "effective_from_ms",
    );
  });
});
