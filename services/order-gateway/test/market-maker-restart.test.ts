/**
 * A market-maker session survives a gateway restart: sequence numbers continue, a ResendRequest after
 * the restart returns exactly the reports the client missed with their original numbers (also those
 * derived, after the restart, from engine events of orders placed before it), and ClOrdIDs stay used.
 * Real engine shard, real wallet, two gateway instances one after the other on one PostgreSQL.
 */
import { createGrpcServer, type GrpcServer } from "@excraft/platform";
import { MarketMakerClient, type ServerMessage, Side } from "@excraft/proto";
import { credentials } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { limit, logger, send, waitUntil } from "./support/harness.ts";
import { Mm } from "./support/mm-client.ts";
import {
  createKey,
  credit as creditAccount,
  type GatewayInstance,
  type Key,
  type OrderExchange,
  startGateway,
  startOrderExchange,
} from "./support/order-harness.ts";

describe("market-maker session across a gateway restart", () => {
  let oe: OrderExchange;
  let gw: GatewayInstance | undefined;
  let server: GrpcServer | undefined;
  let grpc: MarketMakerClient | undefined;
  const open: Mm[] = [];

  const credit = (account: string, asset: string, amount: bigint, id: string) =>
    creditAccount(oe, account, asset, amount, id);

  /** A gateway (order entry + MarketMaker gRPC) on the exchange's one gateway database. */
  const up = async () => {
    gw = await startGateway(oe, { marketMaker: { heartbeatIntervalMs: 0 } });
    server = await createGrpcServer({
      name: "mm-restart-test",
      host: "127.0.0.1",
      port: 0,
      logger,
      reflection: false,
      maxHandlingMs: Number.POSITIVE_INFINITY,
      services: [gw.orders.marketMakerService],
    });
    grpc = new MarketMakerClient(server.address, credentials.createInsecure());
  };
  const down = async () => {
    for (const c of open) if (!c.ended) c.stream.cancel();
    grpc?.close();
    await server?.drain(1_000);
    await gw?.stop();
    gw = undefined;
    server = undefined;
  };
  const connect = () => {
    const c = new Mm(grpc!);
    open.push(c);
    return c;
  };
  /** A taker's LIMIT BUY straight into orders.v1, under an order id the gateway's sequence never gives. */
  let takerIds = 9_000_000_000n;
  const takerBuy = (price: number, quantity: number) => {
    const command = limit("BTCUSDT", "tkr", "BUY", price, quantity, Date.now());
    if (command.command?.$case === "place") command.command.value.orderId = ++takerIds;
    return send(oe.ex.log, [command]);
  };
  const ownFills = (c: Mm) => c.sequenced().filter((m) => m.body?.$case === "executionReport");

  beforeAll(async () => {
    oe = await startOrderExchange();
    await up();
    await credit("mmr", "BTC", 100_000_000n, "mmr-btc");
    await credit("mmr", "USDT", 100_000_000_000n, "mmr-usdt");
    await credit("tkr", "USDT", 100_000_000_000n, "tkr-usdt");
  }, 120_000);

  afterAll(async () => {
    await down();
    await oe?.stop();
  });

  it("continues sequence numbers and resends what the client missed, with the original numbers", async () => {
    const key: Key = await createKey(gw!.url, "mmr", ["read", "trade"]);
    const first = connect();
    first.logon(key);
    const ack1 = await first.logonAck();
    const sessionId = ack1.sessionId;
    first.order("r-s1", Side.SELL, "30000", "0.1");
    first.order("r-s2", Side.SELL, "30100", "0.1");
    first.order("r-b1", Side.BUY, "29000", "0.1");
    const s1 = await first.report("r-s1", "0");
    const s2 = await first.report("r-s2", "0");
    const b1 = await first.report("r-b1", "0");
    expect([s1.seq, s2.seq, b1.seq]).toEqual([1n, 2n, 3n]);
    const received = new Map<bigint, ServerMessage>(first.sequenced().map((m) => [m.seqNum, m]));
    // The client goes away; a taker (straight into orders.v1) fills r-s1 while it is gone: report 4.
    first.stream.end();
    await waitUntil("first stream ended", () => first.ended);
    await takerBuy(3_000_000, 1_000);
    await waitUntil("fill of r-s1 projected", async () => {
      const { rows } = await oe.gatewayPool.query(
        "select count(*)::int as n from og_trades where order_id = $1",
        [s1.r.orderId],
      );
      return rows[0].n === 1;
    });

    // The gateway stops; while it is down r-s2 is filled too (the engine runs on): report 5, derived
    // by the restarted gateway from an event of an order placed before the restart.
    await down();
    await takerBuy(3_010_000, 1_000);
    await up();
    await waitUntil("fill of r-s2 projected by the new gateway", async () => {
      const { rows } = await oe.gatewayPool.query(
        "select count(*)::int as n from og_trades where order_id = $1",
        [s2.r.orderId],
      );
      return rows[0].n === 1;
    });

    // Logon with the next inbound number and the last report the client has (3).
    const second = connect();
    second.seq = first.seq;
    second.logon(key, { lastReceived: 3n });
    const ack2 = await second.logonAck();
    expect(ack2).toMatchObject({ sessionId, nextExpectedSeqNum: first.seq + 2n, lastSeqNum: 5n });
    // Missed at logon: 4 (r-s1 filled) and 5 (r-s2 filled), nothing else.
    const m4 = await second.next("report 4", (m) => m.seqNum === 4n);
    const m5 = await second.next("report 5", (m) => m.seqNum === 5n);
    expect(m4.body).toMatchObject({
      $case: "executionReport",
      value: {
        clOrdId: "r-s1",
        execType: "F",
        ordStatus: "2",
        lastQty: "0.10000000",
        leavesQty: "0.00000000",
      },
    });
    expect(m5.body).toMatchObject({
      $case: "executionReport",
      value: {
        clOrdId: "r-s2",
        execType: "F",
        ordStatus: "2",
        lastPx: "30100.00000000",
        cumQty: "0.10000000",
      },
    });
    expect(ownFills(second).map((m) => m.seqNum)).toEqual([4n, 5n]);

    // ResendRequest 2..4: exactly those, with their original numbers and contents.
    second.send({ $case: "resend", value: { beginSeqNum: 2n, endSeqNum: 4n } });
    await waitUntil("three resent", () => ownFills(second).length === 5);
    await new Promise((resolve) => setTimeout(resolve, 200)); // nothing more follows
    const resent = ownFills(second).slice(2);
    expect(resent.map((m) => m.seqNum)).toEqual([2n, 3n, 4n]);
    expect(resent[0]).toEqual(received.get(2n));
    expect(resent[1]).toEqual(received.get(3n));
    expect(resent[2]).toEqual(m4);

    // Numbering goes on in both directions; the ClOrdIDs of before the restart stay used; the session
    // still owns (and can cancel) the order it placed before the restart.
    second.order("r-s1", Side.SELL, "31000", "0.01");
    expect((await second.reject("reused ClOrdID", "DUPLICATE_CL_ORD_ID")).seq).toBe(6n);
    second.send({ $case: "cancel", value: { clOrdId: "r-b1-c", origClOrdId: "r-b1", symbol: "BTCUSDT" } });
    const cancelled = await second.report("r-b1-c", "4");
    expect(cancelled.seq).toBe(7n);
    expect(cancelled.r).toMatchObject({ origClOrdId: "r-b1", orderId: b1.r.orderId });
    second.stream.end();
    await waitUntil("second stream ended", () => second.ended);
  }, 60_000);
});
