/**
 * Order entry end to end: a real engine shard (embedded event log, PostgreSQL), the real wallet
 * (ledger, gRPC, executions.v1 settlement) and the gateway over real HTTP. Two accounts funded by
 * operator credit trade through signed Binance requests; balances, fills, commissions and the
 * projection are checked exactly; every bad input answers Binance's error and changes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { grpcEngineOrders, grpcWallet, ReservationReconciler, sign } from "../src/index.ts";
import { logger, waitUntil } from "./support/harness.ts";
import {
  client,
  createKey,
  credit as creditAccount,
  type GatewayInstance,
  type Key,
  MASTER_KEY,
  type OrderExchange,
  startGateway,
  startOrderExchange,
  walletCall,
} from "./support/order-harness.ts";

type Balance = { asset: string; free: string; locked: string };

describe("order entry through the real engine and wallet", () => {
  let oe: OrderExchange;
  let gw: GatewayInstance;
  let alice: Key;
  let bob: Key;
  let aliceRead: Key;
  let A: ReturnType<typeof client>;
  let B: ReturnType<typeof client>;
  let aliceSell: number;

  const credit = (account: string, asset: string, amount: bigint, id: string) =>
    creditAccount(oe, account, asset, amount, id);

  const balances = async (call: ReturnType<typeof client>) => {
    const r = await call("GET", "/account");
    expect(r.status).toBe(200);
    return Object.fromEntries((r.body.balances as Balance[]).map((b) => [b.asset, [b.free, b.locked]]));
  };

  beforeAll(async () => {
    oe = await startOrderExchange();
    gw = await startGateway(oe);
    alice = await createKey(gw.url, "alice", ["read", "trade"]);
    bob = await createKey(gw.url, "bob", ["read", "trade"]);
    aliceRead = await createKey(gw.url, "alice", ["read"]);
    A = client(gw.url, alice);
    B = client(gw.url, bob);
    await credit("alice", "BTC", 100_000_000n, "fund-alice-btc"); // 1 BTC
    await credit("bob", "USDT", 100_000_000_000n, "fund-bob-usdt"); // 100 000 USDT
  }, 120_000);

  afterAll(async () => {
    await gw?.stop();
    await oe?.stop();
  });

  it("stores API secrets encrypted and lists keys without secrets", async () => {
    const { rows } = await oe.gatewayPool.query<{ secret_enc: Buffer }>(
      "select secret_enc from api_keys where api_key = $1",
      [alice.apiKey],
    );
    expect(rows[0]!.secret_enc.toString("latin1")).not.toContain(alice.secretKey);
    expect(rows[0]!.secret_enc.toString("hex")).not.toContain(Buffer.from(alice.secretKey).toString("hex"));
    const list = await fetch(`${gw.url}/v1/accounts/alice/api-keys`, {
      headers: { authorization: "Bearer admin-token-for-tests" },
    });
    const keys = (await list.json()) as Record<string, unknown>[];
    expect(keys.map((k) => k.apiKey).sort()).toEqual([alice.apiKey, aliceRead.apiKey].sort());
    expect(JSON.stringify(keys)).not.toContain(alice.secretKey);
    expect((await fetch(`${gw.url}/v1/accounts/alice/api-keys`)).status).toBe(401);
    const docs = (await (await fetch(`${gw.url}/docs`)).json()) as { openapi: string; paths: object };
    expect(docs.openapi).toBe("3.1.0");
    expect(Object.keys(docs.paths)).toContain("/api/v3/order");
    expect(MASTER_KEY).toHaveLength(64);
  });

  it("funded balances show in /account from Wallet.GetBalances", async () => {
    expect(await balances(A)).toEqual({ BTC: ["1.00000000", "0.00000000"] });
    expect(await balances(B)).toEqual({ USDT: ["100000.00000000", "0.00000000"] });
  });

  it("a resting LIMIT sell reserves the base (RESULT)", async () => {
    const r = await A("POST", "/order", {
      symbol: "BTCUSDT",
      side: "SELL",
      type: "LIMIT",
      timeInForce: "GTC",
      quantity: "0.5",
      price: "30000",
      newClientOrderId: "alice-sell-1",
      newOrderRespType: "RESULT",
    });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({
      symbol: "BTCUSDT",
      orderListId: -1,
      clientOrderId: "alice-sell-1",
      price: "30000.00000000",
      origQty: "0.50000000",
      executedQty: "0.00000000",
      cummulativeQuoteQty: "0.00000000",
      status: "NEW",
      timeInForce: "GTC",
      type: "LIMIT",
      side: "SELL",
      selfTradePreventionMode: "EXPIRE_TAKER",
    });
    expect(r.body.fills).toBeUndefined();
    expect(r.headers.get("x-mbx-order-count-10s")).toBe("1");
    aliceSell = r.body.orderId;
    expect(await balances(A)).toEqual({ BTC: ["0.50000000", "0.50000000"] });
  });

  it("a crossing LIMIT buy fills (FULL with fills and commission) and the wallet settles", async () => {
    const r = await B("POST", "/order", {
      symbol: "BTCUSDT",
      side: "BUY",
      type: "LIMIT",
      timeInForce: "GTC",
      quantity: "0.2",
      price: "30100",
    });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({
      status: "FILLED",
      executedQty: "0.20000000",
      cummulativeQuoteQty: "6000.00000000",
      side: "BUY",
      fills: [
        // taker: 20 bps of the 0.2 BTC received
        { price: "30000.00000000", qty: "0.20000000", commission: "0.00040000", commissionAsset: "BTC" },
      ],
    });
    expect(r.body.clientOrderId).toMatch(/^x-/);
    // Settlement is asynchronous (wallet consumes executions.v1).
    await waitUntil("bob settled", async () => (await balances(B)).BTC !== undefined);
    // Reserved 6020 USDT at 30100; paid 6000; the 20 left was released when the order filled.
    expect(await balances(B)).toEqual({
      BTC: ["0.19960000", "0.00000000"],
      USDT: ["94000.00000000", "0.00000000"],
    });
    await waitUntil("alice settled", async () => (await balances(A)).USDT !== undefined);
    // Maker: 10 bps of 6000 USDT.
    expect(await balances(A)).toEqual({
      BTC: ["0.50000000", "0.30000000"],
      USDT: ["5994.00000000", "0.00000000"],
    });
  });

  it("a MARKET buy by quoteOrderQty spends exactly the quote budget", async () => {
    const r = await B("POST", "/order", {
      symbol: "BTCUSDT",
      side: "BUY",
      type: "MARKET",
      quoteOrderQty: "1500",
    });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({
      status: "FILLED",
      type: "MARKET",
      executedQty: "0.05000000",
      cummulativeQuoteQty: "1500.00000000",
      origQuoteOrderQty: "1500.00000000",
      fills: [
        { price: "30000.00000000", qty: "0.05000000", commission: "0.00010000", commissionAsset: "BTC" },
      ],
    });
    // Free USDT is 92500 already once the MARKET buy's budget is reserved: wait for the BTC it bought.
    await waitUntil("bob settled twice", async () => {
      const b = await balances(B);
      return b.USDT?.[0] === "92500.00000000" && b.USDT?.[1] === "0.00000000" && b.BTC?.[0] === "0.24950000";
    });
    expect(await balances(B)).toEqual({
      BTC: ["0.24950000", "0.00000000"],
      USDT: ["92500.00000000", "0.00000000"],
    });
    await waitUntil("alice settled twice", async () => (await balances(A)).USDT?.[0] === "7492.50000000");
    expect(await balances(A)).toEqual({
      BTC: ["0.50000000", "0.25000000"],
      USDT: ["7492.50000000", "0.00000000"],
    });
  });

  it("myTrades, GET order, openOrders and allOrders come from the projection", async () => {
    const at = await A("GET", "/myTrades", { symbol: "BTCUSDT" });
    expect(at.status).toBe(200);
    expect(at.body).toMatchObject([
      {
        symbol: "BTCUSDT",
        orderId: aliceSell,
        price: "30000.00000000",
        qty: "0.20000000",
        quoteQty: "6000.00000000",
        commission: "6.00000000",
        commissionAsset: "USDT",
        isBuyer: false,
        isMaker: true,
        isBestMatch: true,
      },
      { qty: "0.05000000", quoteQty: "1500.00000000", commission: "1.50000000", isMaker: true },
    ]);
    const bt = await B("GET", "/myTrades", { symbol: "BTCUSDT" });
    expect(bt.body).toMatchObject([
      { qty: "0.20000000", commission: "0.00040000", commissionAsset: "BTC", isBuyer: true, isMaker: false },
      { qty: "0.05000000", commission: "0.00010000", commissionAsset: "BTC", isBuyer: true, isMaker: false },
    ]);
    expect(at.body[0].id).toBe(bt.body[0].id);
    const one = await A("GET", "/myTrades", { symbol: "BTCUSDT", fromId: at.body[1].id });
    expect(one.body).toHaveLength(1);

    const order = await A("GET", "/order", { symbol: "BTCUSDT", orderId: aliceSell });
    expect(order.body).toMatchObject({
      orderId: aliceSell,
      clientOrderId: "alice-sell-1",
      status: "PARTIALLY_FILLED",
      executedQty: "0.25000000",
      cummulativeQuoteQty: "7500.00000000",
      isWorking: true,
    });
    const byClient = await A("GET", "/order", { symbol: "BTCUSDT", origClientOrderId: "alice-sell-1" });
    expect(byClient.body.orderId).toBe(aliceSell);
    const open = await A("GET", "/openOrders", { symbol: "BTCUSDT" });
    expect(open.body.map((o: { orderId: number }) => o.orderId)).toEqual([aliceSell]);
    expect(open.headers.get("x-mbx-used-weight-1m")).not.toBeNull();
    expect((await B("GET", "/openOrders")).body).toEqual([]);
    const all = await B("GET", "/allOrders", { symbol: "BTCUSDT" });
    expect(all.body.map((o: { status: string }) => o.status)).toEqual(["FILLED", "FILLED"]);
    // The read-only key reads.
    expect((await client(gw.url, aliceRead)("GET", "/openOrders")).body).toHaveLength(1);
  });

  it("DELETE /order cancels and the wallet releases what was left of the reservation", async () => {
    const r = await A("DELETE", "/order", { symbol: "BTCUSDT", orderId: aliceSell });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({
      symbol: "BTCUSDT",
      origClientOrderId: "alice-sell-1",
      orderId: aliceSell,
      status: "CANCELED",
      executedQty: "0.25000000",
      origQty: "0.50000000",
    });
    await waitUntil("release", async () => (await balances(A)).BTC?.[1] === "0.00000000");
    expect(await balances(A)).toEqual({
      BTC: ["0.75000000", "0.00000000"],
      USDT: ["7492.50000000", "0.00000000"],
    });
    await waitUntil("projection", async () => (await A("GET", "/openOrders")).body.length === 0);
    const again = await A("DELETE", "/order", { symbol: "BTCUSDT", orderId: aliceSell });
    expect(again.body).toEqual({ code: -2011, msg: "Unknown order sent." });
  });

  it("ACK answers once the order is durable; DELETE /openOrders cancels all of a symbol", async () => {
    for (const price of ["1000", "1001"]) {
      const r = await B("POST", "/order", {
        symbol: "BTCUSDT",
        side: "BUY",
        type: "LIMIT",
        timeInForce: "GTC",
        quantity: "0.01",
        price,
        newOrderRespType: "ACK",
      });
      expect(r.status).toBe(200);
      expect(Object.keys(r.body).sort()).toEqual([
        "clientOrderId",
        "orderId",
        "orderListId",
        "symbol",
        "transactTime",
      ]);
    }
    await waitUntil("two open", async () => (await B("GET", "/openOrders")).body.length === 2);
    await waitUntil("locked", async () => (await balances(B)).USDT?.[1] === "20.01000000");
    const r = await B("DELETE", "/openOrders", { symbol: "BTCUSDT" });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.map((o: { status: string }) => o.status)).toEqual(["CANCELED", "CANCELED"]);
    await waitUntil("released", async () => (await balances(B)).USDT?.[1] === "0.00000000");
    expect(await balances(B)).toEqual({
      BTC: ["0.24950000", "0.00000000"],
      USDT: ["92500.00000000", "0.00000000"],
    });
  });

  it("LIMIT_MAKER that would take is rejected with Binance's -2010 and its reservation released", async () => {
    await A("POST", "/order", {
      symbol: "BTCUSDT",
      side: "SELL",
      type: "LIMIT",
      timeInForce: "GTC",
      quantity: "0.1",
      price: "31000",
      newOrderRespType: "ACK",
    });
    const r = await B("POST", "/order", {
      symbol: "BTCUSDT",
      side: "BUY",
      type: "LIMIT_MAKER",
      quantity: "0.1",
      price: "31000",
      newOrderRespType: "RESULT",
    });
    expect(r.body).toEqual({ code: -2010, msg: "Order would immediately match and take." });
    await waitUntil("released", async () => (await balances(B)).USDT?.[1] === "0.00000000");
    expect((await B("GET", "/openOrders")).body).toEqual([]);
  });

  describe("bad input answers Binance's error and changes nothing", () => {
    const order = {
      symbol: "BTCUSDT",
      side: "BUY",
      type: "LIMIT",
      timeInForce: "GTC",
      quantity: "0.01",
      price: "1000",
    };
    const cases: [string, () => Promise<{ status: number; body: unknown }>, number, string][] = [];
    const add = (
      name: string,
      run: () => Promise<{ status: number; body: unknown }>,
      code: number,
      msg: string,
    ) => cases.push([name, run, code, msg]);

    add(
      "bad signature",
      () => B("POST", "/order", order, { signature: "0".repeat(64) }),
      -1022,
      "Signature for this request is not valid.",
    );
    add(
      "signature of other params",
      () => B("GET", "/account", {}, { signature: "ab".repeat(32) }),
      -1022,
      "Signature for this request is not valid.",
    );
    add(
      "stale timestamp",
      () => B("POST", "/order", order, { timestamp: Date.now() - 10_000 }),
      -1021,
      "Timestamp for this request is outside of the recvWindow.",
    );
    add(
      "future timestamp",
      () => B("POST", "/order", order, { timestamp: Date.now() + 5_000 }),
      -1021,
      "Timestamp for this request is outside of the recvWindow.",
    );
    add(
      "recvWindow too large",
      () => B("POST", "/order", { ...order, recvWindow: 60_001 }),
      -1131,
      "recvWindow must be less than 60000.",
    );
    add(
      "unknown key",
      () => client(gw.url, { apiKey: "A".repeat(64), secretKey: "x" })("POST", "/order", order),
      -2015,
      "Invalid API-key, IP, or permissions for action.",
    );
    add(
      "malformed key",
      () => client(gw.url, { apiKey: "short", secretKey: "x" })("POST", "/order", order),
      -2014,
      "API-key format invalid.",
    );
    add(
      "missing key",
      () => B("POST", "/order", order, { headers: { "X-MBX-APIKEY": "" } }),
      -2014,
      "API-key format invalid.",
    );
    add(
      "read-only key places an order",
      () => client(gw.url, aliceRead)("POST", "/order", { ...order, side: "SELL", price: "50000" }),
      -2015,
      "Invalid API-key, IP, or permissions for action.",
    );
    add(
      "unknown symbol",
      () => B("POST", "/order", { ...order, symbol: "NOPEUSDT" }),
      -1121,
      "Invalid symbol.",
    );
    add(
      "price off tick",
      () => B("POST", "/order", { ...order, price: "1000.001" }),
      -1013,
      "Filter failure: PRICE_FILTER",
    );
    add(
      "quantity off step",
      () => B("POST", "/order", { ...order, quantity: "0.00001" }),
      -1013,
      "Filter failure: LOT_SIZE",
    );
    add(
      "zero quantity",
      () => B("POST", "/order", { ...order, quantity: "0" }),
      -1013,
      "Filter failure: LOT_SIZE",
    );
    add(
      "notional too small",
      () => B("POST", "/order", { ...order, quantity: "0.0001", price: "100" }),
      -1013,
      "Filter failure: NOTIONAL",
    );
    add(
      "insufficient balance",
      () => B("POST", "/order", { ...order, quantity: "100", price: "30000" }),
      -2010,
      "Account has insufficient balance for requested action.",
    );
    add(
      "insufficient base",
      () => A("POST", "/order", { ...order, side: "SELL", quantity: "5", price: "30000" }),
      -2010,
      "Account has insufficient balance for requested action.",
    );
    add(
      "malformed quantity",
      () => B("POST", "/order", { ...order, quantity: "1e3" }),
      -1100,
      "Illegal characters found in parameter 'quantity'; legal range is '^([0-9]{1,20})(\\.[0-9]{1,20})?$'.",
    );
    add(
      "negative price",
      () => B("POST", "/order", { ...order, price: "-1" }),
      -1100,
      "Illegal characters found in parameter 'price'; legal range is '^([0-9]{1,20})(\\.[0-9]{1,20})?$'.",
    );
    add(
      "too much precision",
      () => B("POST", "/order", { ...order, quantity: "0.123456789" }),
      -1111,
      "Parameter 'quantity' has too much precision.",
    );
    add(
      "missing side",
      () => B("POST", "/order", { ...order, side: "" }),
      -1102,
      "Mandatory parameter 'side' was not sent, was empty/null, or malformed.",
    );
    add("bad side", () => B("POST", "/order", { ...order, side: "HOLD" }), -1117, "Invalid side.");
    add("bad type", () => B("POST", "/order", { ...order, type: "ICEBERG" }), -1116, "Invalid orderType.");
    add(
      "bad timeInForce",
      () => B("POST", "/order", { ...order, timeInForce: "GTD" }),
      -1115,
      "Invalid timeInForce.",
    );
    add(
      "LIMIT without price",
      () => B("POST", "/order", { ...order, price: "" }),
      -1102,
      "Mandatory parameter 'price' was not sent, was empty/null, or malformed.",
    );
    add(
      "MARKET with price",
      () =>
        B("POST", "/order", { symbol: "BTCUSDT", side: "BUY", type: "MARKET", quantity: "0.01", price: "1" }),
      -1106,
      "Parameter 'price' sent when not required.",
    );
    add(
      "MARKET without size",
      () => B("POST", "/order", { symbol: "BTCUSDT", side: "BUY", type: "MARKET" }),
      -1102,
      "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!",
    );
    add(
      "missing timestamp",
      () => B("POST", "/order", order, { timestamp: "" as unknown as number }),
      -1102,
      "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.",
    );
    add(
      "bad client order id",
      () => B("POST", "/order", { ...order, newClientOrderId: "has space" }),
      -1100,
      "Illegal characters found in parameter 'newClientOrderId'; legal range is '^[\\.A-Z\\:/a-z0-9_-]{1,36}$'.",
    );
    add(
      "order/test validates too",
      () => B("POST", "/order/test", { ...order, price: "1000.001" }),
      -1013,
      "Filter failure: PRICE_FILTER",
    );
    add(
      "DELETE unknown order",
      () => B("DELETE", "/order", { symbol: "BTCUSDT", orderId: 999_999 }),
      -2011,
      "Unknown order sent.",
    );
    add(
      "DELETE another account's order",
      () => B("DELETE", "/order", { symbol: "BTCUSDT", origClientOrderId: "alice-sell-1" }),
      -2011,
      "Unknown order sent.",
    );
    add(
      "DELETE without id",
      () => B("DELETE", "/order", { symbol: "BTCUSDT" }),
      -1102,
      "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
    );
    add(
      "DELETE openOrders with none open",
      () => B("DELETE", "/openOrders", { symbol: "BTCUSDT" }),
      -2011,
      "Unknown order sent.",
    );
    add(
      "GET unknown order",
      () => B("GET", "/order", { symbol: "BTCUSDT", orderId: 999_999 }),
      -2013,
      "Order does not exist.",
    );
    add(
      "GET order malformed id",
      () => B("GET", "/order", { symbol: "BTCUSDT", orderId: "12a" }),
      -1100,
      "Illegal characters found in parameter 'orderId'; legal range is '^[0-9]{1,20}$'.",
    );
    add(
      "myTrades without symbol",
      () => B("GET", "/myTrades"),
      -1102,
      "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.",
    );
    add(
      "allOrders unknown symbol",
      () => B("GET", "/allOrders", { symbol: "XYZ" }),
      -1121,
      "Invalid symbol.",
    );

    it("every case", async () => {
      const before = {
        A: await balances(A),
        B: await balances(B),
        openA: (await A("GET", "/openOrders")).body,
        openB: (await B("GET", "/openOrders")).body,
        orders: (await oe.gatewayPool.query("select count(*)::int as n from og_orders")).rows[0].n,
        reservations: (await oe.gatewayPool.query("select count(*)::int as n from og_reservations")).rows[0]
          .n,
      };
      for (const [name, run, code, msg] of cases) {
        const r = await run();
        expect(r.body, name).toEqual({ code, msg });
        expect(r.status, name).toBeGreaterThanOrEqual(400);
      }
      // Give any stray command time to reach the engine and the wallet, then compare.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(await balances(A)).toEqual(before.A);
      expect(await balances(B)).toEqual(before.B);
      expect((await A("GET", "/openOrders")).body).toEqual(before.openA);
      expect((await B("GET", "/openOrders")).body).toEqual(before.openB);
      expect((await oe.gatewayPool.query("select count(*)::int as n from og_orders")).rows[0].n).toBe(
        before.orders,
      );
      expect((await oe.gatewayPool.query("select count(*)::int as n from og_reservations")).rows[0].n).toBe(
        0,
      );
      expect(before.reservations).toBe(0);
    });

    it("an IP allow-list refuses other addresses; a wider recvWindow accepts an older timestamp", async () => {
      const response = await fetch(`${gw.url}/v1/accounts/bob/api-keys`, {
        method: "POST",
        headers: { authorization: "Bearer admin-token-for-tests", "content-type": "application/json" },
        body: JSON.stringify({ permissions: ["read"], ipAllowList: ["10.1.2.3"] }),
      });
      expect(response.status).toBe(201);
      const fenced = client(gw.url, (await response.json()) as Key);
      expect((await fenced("GET", "/account")).body).toEqual({
        code: -2015,
        msg: "Invalid API-key, IP, or permissions for action.",
      });
      const bad = await fetch(`${gw.url}/v1/accounts/bob/api-keys`, {
        method: "POST",
        headers: { authorization: "Bearer admin-token-for-tests", "content-type": "application/json" },
        body: JSON.stringify({ permissions: ["read", "admin"] }),
      });
      expect(bad.status).toBe(400);
      const old = await B("GET", "/account", { recvWindow: 20_000 }, { timestamp: Date.now() - 10_000 });
      expect(old.status).toBe(200);
      const inBody = await B("DELETE", "/openOrders", { symbol: "BTCUSDT" }, { inBody: true });
      expect(inBody.body).toEqual({ code: -2011, msg: "Unknown order sent." });
    });

    it("a revoked key is refused at once", async () => {
      const key = await createKey(gw.url, "carol", ["read"]);
      const C = client(gw.url, key);
      expect((await C("GET", "/account")).status).toBe(200);
      const del = await fetch(`${gw.url}/v1/accounts/carol/api-keys/${key.apiKey}`, {
        method: "DELETE",
        headers: { authorization: "Bearer admin-token-for-tests" },
      });
      expect(del.status).toBe(204);
      expect((await C("GET", "/account")).body).toEqual({
        code: -2015,
        msg: "Invalid API-key, IP, or permissions for action.",
      });
    });
  });

  it("reconciliation releases a reservation whose order never reached the engine, and only that one", async () => {
    // A live order whose og_reservations row survived (crash after publish, before the row was deleted).
    const live = await B("POST", "/order", {
      symbol: "BTCUSDT",
      side: "BUY",
      type: "LIMIT",
      timeInForce: "GTC",
      quantity: "0.01",
      price: "1000",
      newOrderRespType: "RESULT",
    });
    expect(live.body.status).toBe("NEW");
    // A ghost: reserved in the wallet, never published (crash between Reserve and publish).
    const ghost = await gw.orders.orderIds.take();
    await walletCall(oe.walletClient, "reserve", {
      accountId: "bob",
      asset: "USDT",
      amount: 100_000_000n,
      orderId: ghost.toString(),
    });
    const old = Date.now() - 60_000;
    await oe.gatewayPool.query(
      "insert into og_reservations (order_id, account_id, symbol, created_ms) values ($1, 'bob', 'BTCUSDT', $3), ($2, 'bob', 'BTCUSDT', $3)",
      [ghost.toString(), String(live.body.orderId), old],
    );
    expect((await balances(B)).USDT).toEqual(["92390.00000000", "110.00000000"]);
    const wallet = grpcWallet(oe.walletAddress);
    const engine = grpcEngineOrders(oe.ex.engineAddress);
    const reconciler = new ReservationReconciler({
      pool: oe.gatewayPool,
      wallet,
      engine,
      logger,
      timeoutMs: 30_000,
      intervalMs: 60_000,
      now: Date.now,
    });
    try {
      expect(await reconciler.runOnce()).toBe(1);
      expect((await balances(B)).USDT).toEqual(["92490.00000000", "10.00000000"]);
      expect((await oe.gatewayPool.query("select count(*)::int as n from og_reservations")).rows[0].n).toBe(
        0,
      );
      expect(await reconciler.runOnce()).toBe(0);
      // The engine still knows the live order directly too.
      expect((await engine.getOrder("BTCUSDT", BigInt(live.body.orderId), "bob"))?.orderId).toBe(
        BigInt(live.body.orderId),
      );
      expect(await engine.getOrder("BTCUSDT", ghost, "bob")).toBeUndefined();
    } finally {
      wallet.close();
      engine.close();
    }
    const cancel = await B("DELETE", "/order", { symbol: "BTCUSDT", orderId: live.body.orderId });
    expect(cancel.body.status).toBe("CANCELED");
    await waitUntil("released", async () => (await balances(B)).USDT?.[1] === "0.00000000");
  });

  it("WebSocket API user data stream: executionReport and outboundAccountPosition", async () => {
    const ws = new WebSocket(`${gw.url.replace("http", "ws")}/ws-api/v3`);
    const messages: Record<string, unknown>[] = [];
    ws.on("message", (data) => messages.push(JSON.parse(data.toString())));
    await new Promise((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    });
    const subscribe = (key: { apiKey: string; secretKey: string }, id: string, badSignature = false) => {
      const params: Record<string, string | number> = { apiKey: key.apiKey, timestamp: Date.now() };
      const payload = Object.keys(params)
        .sort()
        .map((k) => `${k}=${params[k]}`)
        .join("&");
      const signature = badSignature ? "00".repeat(32) : sign(key.secretKey, payload);
      ws.send(
        JSON.stringify({
          id,
          method: "userDataStream.subscribe.signature",
          params: { ...params, signature },
        }),
      );
    };
    try {
      subscribe(alice, "bad", true);
      await waitUntil("error reply", () => messages.some((m) => m.id === "bad"));
      expect(messages.find((m) => m.id === "bad")).toEqual({
        id: "bad",
        status: 400,
        error: { code: -1022, msg: "Signature for this request is not valid." },
      });
      subscribe(alice, "sub-1");
      await waitUntil("subscribed", () => messages.some((m) => m.id === "sub-1"));
      expect(messages.find((m) => m.id === "sub-1")).toEqual({
        id: "sub-1",
        status: 200,
        result: { subscriptionId: 0 },
      });

      const sell = await A("POST", "/order", {
        symbol: "BTCUSDT",
        side: "SELL",
        type: "LIMIT",
        timeInForce: "GTC",
        quantity: "0.01",
        price: "2000",
        newOrderRespType: "RESULT",
      });
      expect(sell.body.status).toBe("NEW");
      const buy = await B("POST", "/order", {
        symbol: "BTCUSDT",
        side: "BUY",
        type: "LIMIT",
        timeInForce: "GTC",
        quantity: "0.01",
        price: "2000",
      });
      expect(buy.body.status).toBe("FILLED");
      const reports = () =>
        messages
          .map((m) => m.event as Record<string, unknown> | undefined)
          .filter((e) => e?.e === "executionReport" && e.i === sell.body.orderId);
      await waitUntil("reports", () => reports().length === 2);
      expect(reports()[0]).toMatchObject({
        x: "NEW",
        X: "NEW",
        s: "BTCUSDT",
        S: "SELL",
        q: "0.01000000",
        p: "2000.00000000",
      });
      expect(reports()[1]).toMatchObject({
        x: "TRADE",
        X: "FILLED",
        l: "0.01000000",
        L: "2000.00000000",
        z: "0.01000000",
        Z: "20.00000000",
        n: "0.02000000",
        N: "USDT",
        m: true,
      });
      // No event of bob's orders reaches alice's subscription.
      expect(messages.every((m) => (m.event as { i?: number } | undefined)?.i !== buy.body.orderId)).toBe(
        true,
      );
      await waitUntil("position", () =>
        messages.some((m) => {
          const e = m.event as { e?: string; B?: { a: string; f: string }[] } | undefined;
          return (
            e?.e === "outboundAccountPosition" && e.B?.some((b) => b.a === "USDT" && b.f === "7512.48000000")
          );
        }),
      );
    } finally {
      ws.close();
    }
  });

  it("MARKET buy by quantity reserves the cost at the asks; a STOP_LOSS_LIMIT waits (NEW, not working)", async () => {
    const before = await balances(B);
    const r = await B("POST", "/order", { symbol: "BTCUSDT", side: "BUY", type: "MARKET", quantity: "0.01" });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({
      status: "FILLED",
      executedQty: "0.01000000",
      cummulativeQuoteQty: "310.00000000",
      fills: [
        { price: "31000.00000000", qty: "0.01000000", commission: "0.00002000", commissionAsset: "BTC" },
      ],
    });
    const paid = (Number(before.USDT![0]) - 310).toFixed(8);
    await waitUntil("settled", async () => (await balances(B)).USDT?.[0] === paid);
    expect((await balances(B)).USDT).toEqual([paid, "0.00000000"]);

    const stop = await B("POST", "/order", {
      symbol: "BTCUSDT",
      side: "SELL",
      type: "STOP_LOSS_LIMIT",
      timeInForce: "GTC",
      quantity: "0.01",
      price: "1500",
      stopPrice: "1500",
    });
    expect(stop.status, JSON.stringify(stop.body)).toBe(200);
    expect(Object.keys(stop.body)).toContain("transactTime"); // ACK is the default for stop orders
    await waitUntil("projected", async () => (await B("GET", "/openOrders")).body.length === 1);
    const got = await B("GET", "/order", { symbol: "BTCUSDT", orderId: stop.body.orderId });
    expect(got.body).toMatchObject({
      type: "STOP_LOSS_LIMIT",
      status: "NEW",
      stopPrice: "1500.00000000",
      isWorking: false,
      workingTime: -1,
    });
    await waitUntil("locked", async () => (await balances(B)).BTC?.[1] === "0.01000000");
    const cancel = await B("DELETE", "/order", { symbol: "BTCUSDT", orderId: stop.body.orderId });
    expect(cancel.body.status).toBe("CANCELED");
    await waitUntil("released", async () => (await balances(B)).BTC?.[1] === "0.00000000");
  });
});
