/**
 * The market-maker session end to end: a real gRPC server and client on loopback, the real engine
 * shard, the real wallet (PostgreSQL ledger, executions.v1 settlement) and the gateway's order core.
 * Orders placed over the stream are checked in the engine's book (GET /api/v3/depth), in the wallet's
 * balances and in the ExecutionReports; a REST taker crosses them; disconnecting cancels them.
 */
import { createGrpcServer, type GrpcServer } from "@excraft/platform";
import { MarketMakerClient, OrderType, SelfTradePrevention, Side } from "@excraft/proto";
import { credentials } from "@grpc/grpc-js";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { logger, waitUntil } from "./support/harness.ts";
import { Mm } from "./support/mm-client.ts";
import {
  client,
  createKey,
  credit as creditAccount,
  type GatewayInstance,
  type Key,
  type OrderExchange,
  startGateway,
  startOrderExchange,
  walletCall,
} from "./support/order-harness.ts";

describe("market-maker gRPC session", () => {
  let oe: OrderExchange;
  let gw: GatewayInstance;
  let server: GrpcServer;
  let grpc: MarketMakerClient;
  let mm: Key;
  let mmRead: Key;
  let taker: Key;
  let T: ReturnType<typeof client>;
  const open: Mm[] = [];
  const registry = new Registry();

  const connect = () => {
    const c = new Mm(grpc);
    open.push(c);
    return c;
  };
  const credit = (account: string, asset: string, amount: bigint, id: string) =>
    creditAccount(oe, account, asset, amount, id);
  const balances = async (account: string) => {
    const r = await walletCall<{ balances: { asset: string; free: bigint; locked: bigint }[] }>(
      oe.walletClient,
      "getBalances",
      { accountId: account },
    );
    return Object.fromEntries(r.balances.map((b) => [b.asset, [b.free, b.locked]]));
  };
  const eventually = async <T>(what: string, read: () => Promise<T>, expected: T) => {
    let last: T | undefined;
    await waitUntil(
      `${what}: ${String(JSON.stringify(last, (_k, v) => (typeof v === "bigint" ? `${v}` : v)))}`,
      async () => {
        last = await read();
        return (
          JSON.stringify(last, (_k, v) => (typeof v === "bigint" ? `${v}` : v)) ===
          JSON.stringify(expected, (_k, v) => (typeof v === "bigint" ? `${v}` : v))
        );
      },
    ).catch(() => {});
    expect(last).toEqual(expected);
  };
  const depth = async () => {
    const r = await fetch(`${gw.url}/api/v3/depth?symbol=BTCUSDT`);
    return (await r.json()) as { bids: [string, string][]; asks: [string, string][] };
  };

  beforeAll(async () => {
    oe = await startOrderExchange();
    gw = await startGateway(oe, { marketMaker: { heartbeatIntervalMs: 0, registry } });
    server = await createGrpcServer({
      name: "mm-test",
      host: "127.0.0.1",
      port: 0,
      logger,
      reflection: false,
      maxHandlingMs: Number.POSITIVE_INFINITY,
      services: [gw.orders.marketMakerService],
    });
    grpc = new MarketMakerClient(server.address, credentials.createInsecure());
    mm = await createKey(gw.url, "mm", ["read", "trade"]);
    mmRead = await createKey(gw.url, "mm", ["read"]);
    taker = await createKey(gw.url, "tk", ["read", "trade"]);
    T = client(gw.url, taker);
    await credit("mm", "BTC", 100_000_000n, "mm-btc"); // 1 BTC
    await credit("mm", "USDT", 100_000_000_000n, "mm-usdt"); // 100 000 USDT
    await credit("tk", "USDT", 100_000_000_000n, "tk-usdt");
  }, 120_000);

  afterAll(async () => {
    for (const c of open) if (!c.ended) c.stream.cancel();
    grpc?.close();
    await server?.drain(1_000);
    await gw?.stop();
    await oe?.stop();
  });

  it("refuses a logon with a bad signature, an unknown key, a stale timestamp or no trade permission", async () => {
    const cases: [string, (c: Mm) => void][] = [
      ["INVALID_SIGNATURE", (c) => c.logon(mm, { signature: "00".repeat(32) })],
      ["INVALID_SIGNATURE", (c) => c.logon({ apiKey: mm.apiKey, secretKey: taker.secretKey })],
      ["INVALID_API_KEY", (c) => c.logon({ apiKey: "A".repeat(64), secretKey: mm.secretKey })],
      ["INVALID_API_KEY", (c) => c.logon({ apiKey: "short", secretKey: mm.secretKey })],
      ["STALE_TIMESTAMP", (c) => c.logon(mm, { timestamp: Date.now() - 60_000 })],
      ["STALE_TIMESTAMP", (c) => c.logon(mm, { timestamp: Date.now() + 60_000 })],
      ["PERMISSION_DENIED", (c) => c.logon(mmRead)],
    ];
    for (const [code, send] of cases) {
      const c = connect();
      send(c);
      const { r } = await c.reject(code, code);
      expect(r.error?.code).toBe(code);
      await waitUntil("stream ended", () => c.ended);
      expect(c.received.some((m) => m.body?.$case === "logonAck")).toBe(false);
    }
    // Anything but a Logon first is refused (and nothing is placed).
    const c = connect();
    c.order("nolog-1", Side.SELL, "40000", "0.01");
    expect((await c.reject("not logged on", "NOT_LOGGED_ON")).r.refSeqNum).toBe(1n);
    c.break();
    expect((await depth()).asks).toEqual([]);
  });

  it("places orders (book + reservation), reports New and Trade, and cancel-on-disconnect releases everything", async () => {
    const c = connect();
    c.logon(mm, { cod: true });
    const ack = await c.logonAck();
    expect(ack.nextExpectedSeqNum).toBe(2n);
    expect(ack.lastSeqNum).toBe(0n);
    c.order("s1", Side.SELL, "30000", "0.1");
    c.order("b1", Side.BUY, "29000", "0.1");
    const s1 = await c.report("s1", "0");
    expect(s1.r).toMatchObject({
      ordStatus: "0",
      symbol: "BTCUSDT",
      side: Side.SELL,
      price: "30000.00000000",
      orderQty: "0.10000000",
      cumQty: "0.00000000",
      leavesQty: "0.10000000",
    });
    expect(s1.seq).toBe(1n);
    expect((await c.report("b1", "0")).seq).toBe(2n);
    expect(await depth()).toMatchObject({
      asks: [["30000.00000000", "0.10000000"]],
      bids: [["29000.00000000", "0.10000000"]],
    });
    expect(await balances("mm")).toEqual({
      BTC: [90_000_000n, 10_000_000n],
      USDT: [97_100_000_000n, 2_900_000_000n],
    });

    // A REST taker crosses the ask: Trade report with the fill, the rest stays on the book.
    const t = await T("POST", "/order", {
      symbol: "BTCUSDT",
      side: "BUY",
      type: "LIMIT",
      timeInForce: "GTC",
      quantity: "0.04",
      price: "30000",
    });
    expect(t.status, JSON.stringify(t.body)).toBe(200);
    const fill = await c.report("s1", "F");
    expect(fill.r).toMatchObject({
      ordStatus: "1",
      lastPx: "30000.00000000",
      lastQty: "0.04000000",
      cumQty: "0.04000000",
      leavesQty: "0.06000000",
      orderId: s1.r.orderId,
    });

    // A repeated ClOrdID (live order) is refused and places nothing.
    c.order("s1", Side.SELL, "30500", "0.01");
    expect((await c.reject("duplicate", "DUPLICATE_CL_ORD_ID")).r).toMatchObject({
      refSeqNum: 4n,
      clOrdId: "s1",
      error: { field: "cl_ord_id" },
    });
    // Bad input: Reject with the field, nothing changes.
    c.order("bad-1", Side.SELL, "30000.123", "0.01");
    expect((await c.reject("bad price", "FILTER_FAILURE")).r.error).toMatchObject({ field: "price" });
    c.order("bad-2", Side.SELL, "abc", "0.01");
    expect((await c.reject("malformed price", "INVALID_FIELD")).r.error).toMatchObject({ field: "price" });
    c.order("bad-3", Side.SELL, "30000", "0.0001");
    expect((await c.reject("notional", "FILTER_FAILURE")).r.error?.message).toContain("NOTIONAL");
    c.order("bad-4", Side.SELL, "30000", "100");
    expect((await c.reject("funds", "INSUFFICIENT_BALANCE")).r.clOrdId).toBe("bad-4");
    c.order("bad-5", Side.SELL, "30000", "0.01", { symbol: "NOPE" });
    expect((await c.reject("symbol", "UNKNOWN_SYMBOL")).r.error?.field).toBe("symbol");
    c.order("", Side.SELL, "30000", "0.01");
    expect((await c.reject("no ClOrdID", "MISSING_FIELD")).r.error?.field).toBe("cl_ord_id");
    // Post-only (LIMIT_MAKER) that would take: the engine rejects it (ExecType 8).
    c.order("pm-1", Side.BUY, "30000", "0.01", { ordType: OrderType.LIMIT_MAKER, timeInForce: 0 });
    expect((await c.report("pm-1", "8")).r).toMatchObject({ ordStatus: "8" });
    // STP as on REST: crossing its own ask with EXPIRE_TAKER expires the taker.
    c.order("stp-1", Side.BUY, "30000", "0.01", { selfTradePrevention: SelfTradePrevention.EXPIRE_TAKER });
    const stp = await c.report("stp-1", "C");
    expect(stp.r).toMatchObject({ ordStatus: "C", cumQty: "0.00000000", text: "STP" });
    expect(await depth()).toMatchObject({
      asks: [["30000.00000000", "0.06000000"]],
      bids: [["29000.00000000", "0.10000000"]],
    });
    await eventually("balances after the fill", () => balances("mm"), {
      BTC: [90_000_000n, 6_000_000n],
      USDT: [97_100_000_000n + 1_198_800_000n, 2_900_000_000n], // 1 200 USDT less the 10 bps maker fee
    });
    const lastBeforeBreak = c.sequenced().at(-1)!.seqNum;

    // The stream breaks: the session's open orders are cancelled, the holds released.
    c.break();
    await waitUntil("book empty", async () => {
      const d = await depth();
      return d.asks.length === 0 && d.bids.length === 0;
    });
    await waitUntil("holds released", async () => {
      const b = await balances("mm");
      return b.BTC![1] === 0n && b.USDT![1] === 0n;
    });
    await eventually("balances after cancel-on-disconnect", () => balances("mm"), {
      BTC: [96_000_000n, 0n],
      USDT: [101_198_800_000n, 0n],
    });

    // Reconnecting with the last seq_num it saw, the client gets the Canceled reports it missed.
    const again = connect();
    again.seq = 3n; // a Logon numbered neither 1 nor next-expected: SequenceGap, not logged on
    again.logon(mm, { lastReceived: lastBeforeBreak });
    const gapOrAck = await again.next(
      "answer",
      (m) => m.body?.$case === "logonAck" || m.body?.$case === "gap",
    );
    expect(gapOrAck.body?.$case).toBe("gap");
    if (gapOrAck.body?.$case !== "gap") return;
    expect(gapOrAck.body.value.receivedSeqNum).toBe(4n);
    const expected = gapOrAck.body.value.expectedSeqNum;
    again.seq = expected - 1n;
    again.logon(mm, { lastReceived: lastBeforeBreak });
    const ack2 = await again.logonAck();
    expect(ack2.nextExpectedSeqNum).toBe(expected + 1n);
    const s1c = await again.report("s1", "4");
    const b1c = await again.report("b1", "4");
    expect(s1c.r).toMatchObject({ ordStatus: "4", text: "CANCEL_ON_DISCONNECT", leavesQty: "0.00000000" });
    expect(b1c.r.text).toBe("CANCEL_ON_DISCONNECT");
    expect(s1c.seq).toBeGreaterThan(lastBeforeBreak);
    expect(again.sequenced().every((m) => m.seqNum > lastBeforeBreak)).toBe(true);
    expect(ack2.lastSeqNum).toBeGreaterThanOrEqual(lastBeforeBreak);
    // A resend after the reconnect never creates a second order: the ClOrdID is known.
    again.order("s1", Side.SELL, "30000", "0.1");
    await again.reject("resent NewOrderSingle", "DUPLICATE_CL_ORD_ID");
    expect((await depth()).asks).toEqual([]);
    again.stream.end();
    await waitUntil("ended", () => again.ended);
  });

  it("detects an inbound sequence gap (message not processed) and resends kept reports", async () => {
    const c = connect();
    c.logon(mm); // seq_num 1 starts inbound numbering again
    const ack = await c.logonAck();
    expect(ack.nextExpectedSeqNum).toBe(2n);
    const first = ack.lastSeqNum;
    // seq 5 instead of 2: SequenceGap, the order is not placed.
    c.seq = 4n;
    c.order("gap-1", Side.SELL, "35000", "0.01");
    const gap = await c.next("gap", (m) => m.body?.$case === "gap");
    expect(gap.body).toEqual({ $case: "gap", value: { expectedSeqNum: 2n, receivedSeqNum: 5n } });
    expect(gap.seqNum).toBe(0n);
    // Resending from 2 works.
    c.seq = 1n;
    c.order("gap-2", Side.SELL, "35000", "0.01");
    const placed = await c.report("gap-2", "0");
    expect(placed.seq).toBe(first + 1n);
    expect(
      c.received.some((m) => m.body?.$case === "executionReport" && m.body.value.clOrdId === "gap-1"),
    ).toBe(false);
    expect((await depth()).asks).toEqual([["35000.00000000", "0.01000000"]]);
    // ResendRequest: the kept messages again, with their original numbers.
    c.send({ $case: "resend", value: { beginSeqNum: first - 1n, endSeqNum: first + 1n } });
    const r1 = await c.next("resent 1", (m) => m.seqNum === first - 1n);
    const r2 = await c.next("resent 2", (m) => m.seqNum === first);
    const r3 = await c.next("resent 3", (m) => m.seqNum === first + 1n);
    expect(r3.body).toEqual({ $case: "executionReport", value: placed.r });
    expect(r1.body?.$case).toBeDefined();
    expect(r2.body?.$case).toBeDefined();
    // Heartbeat is answered.
    c.send({ $case: "heartbeat", value: {} });
    await c.next("heartbeat", (m) => m.body?.$case === "heartbeat");

    // Cancel: ER 4 with the cancel's ClOrdID, the order's as OrigClOrdID; the hold goes back.
    c.send({ $case: "cancel", value: { clOrdId: "gap-2-c", origClOrdId: "gap-2", symbol: "BTCUSDT" } });
    const cancelled = await c.report("gap-2-c", "4");
    expect(cancelled.r).toMatchObject({ origClOrdId: "gap-2", ordStatus: "4", orderId: placed.r.orderId });
    c.send({ $case: "cancel", value: { clOrdId: "gap-2-c2", origClOrdId: "gap-2", symbol: "BTCUSDT" } });
    await c.reject("cancel of a cancelled order", "UNKNOWN_ORDER");
    c.send({ $case: "cancel", value: { clOrdId: "x-c", origClOrdId: "never", symbol: "BTCUSDT" } });
    await c.reject("cancel of an unknown order", "UNKNOWN_ORDER");
    await waitUntil("ask gone", async () => (await depth()).asks.length === 0);
    c.stream.end();
    await waitUntil("ended", () => c.ended);
  });

  it("cancel-replace keeps priority on a size decrease and loses it on a size increase or price change", async () => {
    const c = connect();
    c.logon(mm);
    await c.logonAck();
    c.order("r-a", Side.SELL, "31000", "0.1");
    c.order("r-b", Side.SELL, "31000", "0.1");
    const a = await c.report("r-a", "0");
    const b = await c.report("r-b", "0");
    // Size decrease at the same price: kept priority (A still ahead of B).
    c.send({
      $case: "replace",
      value: { clOrdId: "r-a2", origClOrdId: "r-a", symbol: "BTCUSDT", price: "", orderQty: "0.05" },
    });
    const a2 = await c.report("r-a2", "5");
    expect(a2.r).toMatchObject({
      origClOrdId: "r-a",
      text: "PRIORITY_KEPT",
      orderQty: "0.05000000",
      ordStatus: "0",
    });
    expect(a2.r.orderId).not.toBe(a.r.orderId);
    // Size increase of B at the same price: loses priority (needs 0.1 BTC more reserved).
    c.send({
      $case: "replace",
      value: { clOrdId: "r-b2", origClOrdId: "r-b", symbol: "BTCUSDT", price: "", orderQty: "0.2" },
    });
    expect((await c.report("r-b2", "5")).r.text).toBe("PRIORITY_LOST");
    c.order("r-c", Side.SELL, "31000", "0.1"); // joins the level behind B2
    await c.report("r-c", "0");
    // Book order at 31000 now: A2 (kept), B2 (re-entered), C. A taker of 0.15 fills A2 then B2.
    const t = await T("POST", "/order", {
      symbol: "BTCUSDT",
      side: "BUY",
      type: "LIMIT",
      timeInForce: "IOC",
      quantity: "0.15",
      price: "31000",
    });
    expect(t.status, JSON.stringify(t.body)).toBe(200);
    expect((await c.report("r-a2", "F")).r).toMatchObject({ ordStatus: "2", lastQty: "0.05000000" });
    expect((await c.report("r-b2", "F")).r).toMatchObject({ ordStatus: "1", lastQty: "0.10000000" });
    expect(
      c.received.some(
        (m) =>
          m.body?.$case === "executionReport" &&
          m.body.value.clOrdId === "r-c" &&
          m.body.value.execType === "F",
      ),
    ).toBe(false);
    expect(b.r.orderId).not.toBe("");
    // Price change: loses priority and moves the level.
    c.send({
      $case: "replace",
      value: { clOrdId: "r-c2", origClOrdId: "r-c", symbol: "BTCUSDT", price: "31100", orderQty: "" },
    });
    expect((await c.report("r-c2", "5")).r).toMatchObject({ text: "PRIORITY_LOST", price: "31100.00000000" });
    expect((await depth()).asks).toEqual([
      ["31000.00000000", "0.10000000"],
      ["31100.00000000", "0.10000000"],
    ]);
    // A BUY repriced higher reserves the difference; a refused replace changes nothing.
    c.order("r-d", Side.BUY, "20000", "0.1");
    await c.report("r-d", "0");
    const before = await balances("mm");
    c.send({
      $case: "replace",
      value: { clOrdId: "r-d2", origClOrdId: "r-d", symbol: "BTCUSDT", price: "21000", orderQty: "" },
    });
    await c.report("r-d2", "5");
    await waitUntil(
      "extra reserved",
      async () => (await balances("mm")).USDT![1] === before.USDT![1] + 100_000_000n,
    );
    c.send({
      $case: "replace",
      value: { clOrdId: "r-x", origClOrdId: "nope", symbol: "BTCUSDT", price: "1", orderQty: "" },
    });
    await c.reject("replace unknown", "UNKNOWN_ORDER");
    c.send({
      $case: "replace",
      value: { clOrdId: "r-a2", origClOrdId: "r-d2", symbol: "BTCUSDT", price: "20000", orderQty: "" },
    });
    await c.reject("replace with a used ClOrdID", "DUPLICATE_CL_ORD_ID");

    // Mass cancel: every open order of the account in the market, holds released.
    c.send({ $case: "massCancel", value: { clOrdId: "mc-1", symbol: "BTCUSDT" } });
    await waitUntil("book empty", async () => {
      const d = await depth();
      return d.asks.length === 0 && d.bids.length === 0;
    });
    await waitUntil("holds released", async () => {
      const bal = await balances("mm");
      return bal.BTC![1] === 0n && bal.USDT![1] === 0n;
    });
    const masses = () =>
      c.received.filter(
        (m) =>
          m.body?.$case === "executionReport" &&
          m.body.value.execType === "4" &&
          m.body.value.text === "MASS_CANCEL",
      );
    await waitUntil("mass-cancel reports", () => masses().length === 3);
    expect(
      masses()
        .map((m) => (m.body?.$case === "executionReport" ? m.body.value.clOrdId : ""))
        .sort(),
    ).toEqual(["r-b2", "r-c2", "r-d2"]);
    c.send({ $case: "massCancel", value: { clOrdId: "mc-2", symbol: "BTCUSDT" } });
    await c.reject("nothing to cancel", "UNKNOWN_ORDER");
    c.stream.end();
  });

  it("counts sessions, messages and rejects", async () => {
    await waitUntil("every stream closed", () => gw.orders.marketMaker.connectionCount === 0);
    const text = await registry.metrics();
    const value = (line: string) =>
      Number(new RegExp(`^${line.replace(/[{}"]/g, "\\$&")} (\\S+)$`, "m").exec(text)?.[1]);
    expect(value("gateway_mm_sessions")).toBe(0);
    expect(value("gateway_mm_connections")).toBe(0);
    expect(value('gateway_mm_messages_in_total{type="newOrder"}')).toBe(19);
    expect(value('gateway_mm_messages_out_total{type="executionReport"}')).toBeGreaterThanOrEqual(20);
    expect(value('gateway_mm_rejects_total{code="DUPLICATE_CL_ORD_ID"}')).toBe(3);
    expect(value('gateway_mm_rejects_total{code="INVALID_SIGNATURE"}')).toBe(2);
    expect(value('gateway_mm_logons_total{result="OK"}')).toBe(4);
    expect(value("gateway_mm_sequence_gaps_total")).toBe(2);
    expect(value("gateway_mm_cod_cancels_total")).toBe(2);
  });

  it("pipelines a burst of new orders: engine order and reports in message order, ClOrdIDs claimed in order", async () => {
    const mm2 = await createKey(gw.url, "mm2", ["read", "trade"]);
    await credit("mm2", "BTC", 100_000_000n, "mm2-btc"); // 1 BTC
    await credit("mm2", "USDT", 1_000_000_000n, "mm2-usdt"); // 1 000 USDT
    // An order of the account placed over REST: its ClOrdID is taken for the session too.
    const rest = await client(gw.url, mm2)("POST", "/order", {
      symbol: "BTCUSDT",
      side: "SELL",
      type: "LIMIT",
      timeInForce: "GTC",
      quantity: "0.01",
      price: "50000",
      newClientOrderId: "rest-1",
      newOrderRespType: "RESULT",
    });
    expect(rest.status, JSON.stringify(rest.body)).toBe(200);
    const c = connect();
    c.logon(mm2, { cod: true });
    await c.logonAck();
    // All written at once: the session takes them in while earlier ones are still reserving.
    const asks = Array.from({ length: 30 }, (_, i) => `p${i + 1}`);
    for (const [i, id] of asks.entries()) {
      c.order(id, Side.SELL, String(40_000 + i), "0.01");
      if (id === "p5") c.order("p5", Side.SELL, "45000", "0.01"); // still in flight: a duplicate
      if (id === "p7") c.order("rest-1", Side.SELL, "45000", "0.01"); // the REST order's
      if (id === "p10") {
        c.order("big", Side.BUY, "30000", "1"); // 30 000 USDT: the wallet refuses it
        c.order("big", Side.BUY, "20000", "0.01"); // the refused order's ClOrdID is free again
      }
    }
    const reports = [];
    for (const id of asks) reports.push(await c.report(id, "0"));
    const seqs = reports.map((r) => r.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => (a < b ? -1 : 1)));
    // Order ids may come from any order of the pipeline; the engine's time priority follows messages.
    expect(new Set(reports.map((r) => r.r.orderId)).size).toBe(30);
    const dup = await c.reject("duplicate p5", "DUPLICATE_CL_ORD_ID");
    expect(dup.r.clOrdId).toBe("p5");
    const restDup = await c.reject("duplicate of the REST order", "DUPLICATE_CL_ORD_ID");
    expect(restDup.r.clOrdId).toBe("rest-1");
    const refused = await c.next(
      "big refused",
      (m) => m.body?.$case === "reject" && m.body.value.clOrdId === "big",
    );
    const big = await c.report("big", "0");
    expect(big.r).toMatchObject({ price: "20000.00000000", orderQty: "0.01000000", ordStatus: "0" });
    expect(refused.seqNum).toBeLessThan(big.seq);
    expect(reports[9]!.seq).toBeLessThan(big.seq);
    expect(big.seq).toBeLessThan(reports[10]!.seq);
    expect((await depth()).asks.filter(([p]) => p >= "40000").slice(0, 3)).toEqual([
      ["40000.00000000", "0.01000000"],
      ["40001.00000000", "0.01000000"],
      ["40002.00000000", "0.01000000"],
    ]);
    expect(await balances("mm2")).toEqual({
      BTC: [69_000_000n, 31_000_000n],
      USDT: [800_000_000n, 200_000_000n],
    });
    c.break();
    await eventually("cancel-on-disconnect released the session's orders", () => balances("mm2"), {
      BTC: [99_000_000n, 1_000_000n],
      USDT: [1_000_000_000n, 0n],
    });
  });
});
