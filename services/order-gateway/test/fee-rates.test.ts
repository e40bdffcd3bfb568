/**
 * Asset decimals and fee rates have one source, the wallet: an account with a per-account fee
 * override trades through the real engine and wallet, and the commission the gateway reports (FULL
 * fills, myTrades, /account and /account/commission rates, /order/test) equals what the wallet's
 * ledger booked to the fee account for each trade — also right before and right after a scheduled
 * rate change takes effect (the wallet charges by the trade's time; the gateway computes with the
 * schedule it fetched, which covers that time). The gateway waits (not ready) until the wallet
 * answers GetAssets.
 */
import { createServer } from "node:net";
import { createMetrics } from "@excraft/platform";
import { startWalletApp } from "@excraft/wallet";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMarketDataGateway, createOrderGateway, formatUnits } from "../src/index.ts";
import { logger, waitUntil } from "./support/harness.ts";
import {
  ASSETS,
  client,
  createKey,
  credit as creditAccount,
  type GatewayInstance,
  MASTER_KEY,
  type OrderExchange,
  startGateway,
  startOrderExchange,
} from "./support/order-harness.ts";

const DECIMALS: Record<string, number> = { BTC: 8, USDT: 6 };
/** The wallet's fee-change notice here: short, so that a test can wait for a change to take effect. */
const NOTICE_MS = 1_500;

describe("commissions as the wallet charges them (per-account overrides)", () => {
  let oe: OrderExchange;
  let gw: GatewayInstance;
  let V: ReturnType<typeof client>; // "vip": maker 2 bps, taker 7 bps (override)
  let C: ReturnType<typeof client>; // "carol": the market's 10 / 20 bps

  const credit = (account: string, asset: string, amount: bigint, id: string) =>
    creditAccount(oe, account, asset, amount, id);

  /** What the wallet booked to the fee account for a trade, per asset, as decimal text. */
  const ledgerFees = async (tradeId: number): Promise<Record<string, string>> => {
    let rows: { accounts: string[]; assets: string[]; amounts: string[] }[] = [];
    await waitUntil(`trade ${tradeId} settled`, async () => {
      rows = (
        await oe.wallet.pool.query(
          "select accounts, assets, amounts::text[] as amounts from journal_entries where source = $1",
          [`trade:BTCUSDT:${tradeId}`],
        )
      ).rows;
      return rows.length === 1;
    });
    const fees: Record<string, bigint> = { BTC: 0n, USDT: 0n };
    const e = rows[0]!;
    e.accounts.forEach((account, i) => {
      if (account === "sys:fees") fees[e.assets[i]!] = (fees[e.assets[i]!] ?? 0n) + BigInt(e.amounts[i]!);
    });
    return Object.fromEntries(Object.entries(fees).map(([a, v]) => [a, formatUnits(v, DECIMALS[a]!)]));
  };

  const order = (
    call: ReturnType<typeof client>,
    side: "BUY" | "SELL",
    quantity: string,
    price: string,
    respType: "RESULT" | "FULL",
  ) =>
    call("POST", "/order", {
      symbol: "BTCUSDT",
      side,
      type: "LIMIT",
      timeInForce: "GTC",
      quantity,
      price,
      newOrderRespType: respType,
    });

  /** Until a scheduled fee entry is in force (the wallet charges trades from that time on). */
  const inForce = async (entry: { effectiveFromMs: number }) => {
    const left = entry.effectiveFromMs - Date.now();
    if (left >= 0) await new Promise((resolve) => setTimeout(resolve, left + 20));
  };

  beforeAll(async () => {
    oe = await startOrderExchange({ feeChangeNoticeMs: NOTICE_MS });
    const vipOverride = await oe.wallet.ledger.setFeeOverride("vip", "BTCUSDT", 2, 7);
    // A cache lifetime far beyond the notice: reported fees must not depend on it.
    gw = await startGateway(oe, { walletReference: { feeCacheMs: 60_000 } });
    await inForce(vipOverride);
    V = client(gw.url, await createKey(gw.url, "vip", ["read", "trade"]));
    C = client(gw.url, await createKey(gw.url, "carol", ["read", "trade"]));
    await credit("vip", "BTC", 100_000_000n, "fund-vip-btc");
    await credit("vip", "USDT", 100_000_000_000n, "fund-vip-usdt");
    await credit("carol", "BTC", 100_000_000n, "fund-carol-btc");
    await credit("carol", "USDT", 100_000_000_000n, "fund-carol-usdt");
  }, 120_000);

  afterAll(async () => {
    await gw?.stop();
    await oe?.stop();
  });

  it("FULL fills and myTrades report the override the wallet charged, trade by trade", async () => {
    // vip's resting sell is hit by carol: vip maker (2 bps of the USDT received), carol taker (20 bps of BTC).
    const rest = await order(V, "SELL", "0.1", "30000", "RESULT");
    expect(rest.status, JSON.stringify(rest.body)).toBe(200);
    const hit = await order(C, "BUY", "0.1", "30000", "FULL");
    expect(hit.status, JSON.stringify(hit.body)).toBe(200);
    expect(hit.body.fills).toMatchObject([{ commission: "0.00020000", commissionAsset: "BTC" }]);
    const t1 = hit.body.fills[0].tradeId as number;

    // carol's resting sell is lifted by vip: vip taker (7 bps of the BTC received), carol maker (10 bps).
    expect((await order(C, "SELL", "0.1", "30010", "RESULT")).status).toBe(200);
    const lift = await order(V, "BUY", "0.1", "30010", "FULL");
    expect(lift.status, JSON.stringify(lift.body)).toBe(200);
    expect(lift.body.fills).toMatchObject([{ commission: "0.00007000", commissionAsset: "BTC" }]);
    const t2 = lift.body.fills[0].tradeId as number;

    // The wallet's ledger: what the fee account received in each trade is exactly both sides' commissions.
    expect(await ledgerFees(t1)).toEqual({ BTC: "0.00020000", USDT: "0.60000000" });
    expect(await ledgerFees(t2)).toEqual({ BTC: "0.00007000", USDT: "3.00100000" });

    const mine = await V("GET", "/myTrades", { symbol: "BTCUSDT" });
    expect(mine.status).toBe(200);
    expect(mine.body).toMatchObject([
      { id: t1, isBuyer: false, isMaker: true, commission: "0.60000000", commissionAsset: "USDT" },
      { id: t2, isBuyer: true, isMaker: false, commission: "0.00007000", commissionAsset: "BTC" },
    ]);
    const theirs = await C("GET", "/myTrades", { symbol: "BTCUSDT" });
    expect(theirs.body).toMatchObject([
      { id: t1, commission: "0.00020000", commissionAsset: "BTC" },
      { id: t2, commission: "3.00100000", commissionAsset: "USDT" },
    ]);
  });

  it("/account, /account/commission and /order/test show each account's own rates", async () => {
    const v = await V("GET", "/account");
    expect(v.body).toMatchObject({
      makerCommission: 2,
      takerCommission: 7,
      commissionRates: {
        maker: "0.00020000",
        taker: "0.00070000",
        buyer: "0.00000000",
        seller: "0.00000000",
      },
    });
    const c = await C("GET", "/account");
    expect(c.body).toMatchObject({
      makerCommission: 10,
      takerCommission: 20,
      commissionRates: { maker: "0.00100000", taker: "0.00200000" },
    });
    const vc = await V("GET", "/account/commission", { symbol: "BTCUSDT" });
    expect(vc.status).toBe(200);
    expect(vc.body).toMatchObject({
      symbol: "BTCUSDT",
      standardCommission: { maker: "0.00020000", taker: "0.00070000" },
    });
    const bad = await V("GET", "/account/commission", { symbol: "NOPEUSDT" });
    expect(bad).toMatchObject({ status: 400, body: { code: -1121, msg: "Invalid symbol." } });
    const test = await C("POST", "/order/test", {
      symbol: "BTCUSDT",
      side: "BUY",
      type: "LIMIT",
      timeInForce: "GTC",
      quantity: "0.1",
      price: "30000",
      computeCommissionRates: "true",
    });
    expect(test.body.standardCommissionForOrder).toEqual({ maker: "0.00100000", taker: "0.00200000" });
  });

  it("a scheduled override change: trades just before and after it are each reported as charged", async () => {
    // The gateway has vip's rates cached (fetched for /account now); the change is scheduled after that.
    expect((await V("GET", "/account")).body).toMatchObject({ makerCommission: 2, takerCommission: 7 });
    const change = await oe.wallet.ledger.setFeeOverride("vip", "BTCUSDT", 0, 15);
    expect(change.effectiveFromMs).toBeGreaterThanOrEqual(Date.now() + NOTICE_MS - 50);
    // Before it takes effect: still 7 bps taker, in the FULL answer and in the ledger.
    expect((await order(C, "SELL", "0.2", "30020", "RESULT")).status).toBe(200);
    const before = await order(V, "BUY", "0.2", "30020", "FULL");
    expect(before.body.fills).toMatchObject([{ commission: "0.00014000", commissionAsset: "BTC" }]);
    const t3 = before.body.fills[0].tradeId as number;
    expect(before.body.transactTime).toBeLessThan(change.effectiveFromMs);
    // /account shows the rates in force now (not yet the scheduled ones).
    expect((await V("GET", "/account")).body).toMatchObject({ makerCommission: 2, takerCommission: 7 });

    await inForce(change);
    expect((await order(C, "SELL", "0.2", "30030", "RESULT")).status).toBe(200);
    const after = await order(V, "BUY", "0.2", "30030", "FULL");
    expect(after.body.fills).toMatchObject([{ commission: "0.00030000", commissionAsset: "BTC" }]);
    const t4 = after.body.fills[0].tradeId as number;

    expect((await ledgerFees(t3)).BTC).toBe("0.00014000");
    expect((await ledgerFees(t4)).BTC).toBe("0.00030000");
    const mine = await V("GET", "/myTrades", { symbol: "BTCUSDT", fromId: t3 });
    expect(mine.body).toMatchObject([
      { id: t3, commission: "0.00014000" },
      { id: t4, commission: "0.00030000" },
    ]);
    expect((await V("GET", "/account")).body).toMatchObject({ makerCommission: 0, takerCommission: 15 });
  });

  it("exchangeInfo commission precisions follow the wallet's asset decimals", async () => {
    const info = (await (await fetch(`${gw.url}/api/v3/exchangeInfo?symbol=BTCUSDT`)).json()) as {
      symbols: { baseCommissionPrecision: number; quoteCommissionPrecision: number }[];
    };
    // Commissions are shown with max(decimals, 8) digits: BTC 8, USDT 6 → 8 both.
    expect(info.symbols[0]).toMatchObject({ baseCommissionPrecision: 8, quoteCommissionPrecision: 8 });
    expect(gw.orders.reference.decimalsOf("USDT")).toBe(6);
    expect(gw.orders.reference.decimalsOf("BTC")).toBe(8);
  });

  it("a gateway is not ready until the wallet answers GetAssets, then loads them", async () => {
    const port = await freePort();
    const md = createMarketDataGateway({
      eventLog: oe.ex.log,
      pool: oe.gatewayPool,
      engine: oe.ex.engineAddress,
      logger,
      metrics: createMetrics({ defaultMetrics: false }),
      groupId: "late-wallet.md",
    });
    const orders = createOrderGateway({
      gateway: md,
      eventLog: oe.ex.log,
      pool: oe.gatewayPool,
      engine: oe.ex.engineAddress,
      wallet: `127.0.0.1:${port}`,
      logger,
      masterKey: MASTER_KEY,
      groupId: "late-wallet.orders",
      walletReference: { retryMs: 100 },
    });
    let started = false;
    const starting = orders.start().then(() => {
      started = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(orders.reference.ready).toBe(false);
    expect(started).toBe(false);
    // A second, real wallet (its own database, not settling) comes up on that address.
    const late = await startWalletApp({
      databaseUrl: await oe.ex.postgres.createDatabase("late_wallet"),
      eventLog: oe.ex.log,
      logger,
      grpcHost: "127.0.0.1",
      grpcPort: port,
      siwe: { domain: "excraft.test", uri: "https://excraft.test/link", chainId: 31337 },
      kycWebhookSecret: "unused",
      assets: [...ASSETS, { symbol: "ETH", decimals: 18, contractAddress: "" }],
      consumeExecutions: false,
      publishLedger: false,
      auditIntervalMs: 3_600_000,
    });
    try {
      await starting;
      expect(orders.reference.ready).toBe(true);
      expect(orders.reference.decimalsOf("ETH")).toBe(18);
    } finally {
      await orders.stop();
      await md.stop();
      late.pool.on("error", () => {});
      await late.stop();
    }
  }, 60_000);
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}
