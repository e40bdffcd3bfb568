/**
 * A crash of the one-process exchange (SIGKILL: no shutdown code runs) while a market maker's
 * cancel-on-disconnect session has resting orders. After a restart on the same data directory:
 * the session's orders are cancelled and their funds released; the same account's orders placed
 * otherwise (a session without cancel-on-disconnect, the REST API) stay open; and a re-logon gets
 * the reports it missed (the cancellations) under their original, gapless sequence numbers. The crash
 * kills the exchange process alone (its embedded PostgreSQL is left running) or the whole process
 * group; and an order the engine took in just before the crash, whose report was not durable yet, is
 * cancelled as well.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sign } from "@excraft/order-gateway";
import {
  type BookSnapshot,
  type ClientMessage,
  type ExecutionReport,
  MarketMakerClient,
  MatchingEngineClient,
  OrderType,
  SelfTradePrevention,
  type ServerMessage,
  Side,
  TimeInForce,
} from "@excraft/proto";
import { freePortBlock } from "@excraft/testkit";
import { type ClientDuplexStream, credentials } from "@grpc/grpc-js";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import {
  type Balance,
  type CrashScope,
  crash,
  killAllExchanges,
  type SignedClient,
  signedRest,
  startExchange,
  units,
  until,
  waitReady,
} from "./exchange-process.ts";

const DEMO_KEY = "c".repeat(32) + "3".repeat(32);
const DEMO_SECRET = "d".repeat(32) + "4".repeat(32);
const ADMIN_TOKEN = "market-maker-crash-test-admin-token";
/** Far from the bot's quotes (BTC around 97 000, ETH around 3 400): nothing can fill these. */
const FAR = {
  btcBid: "50000.00",
  btcAsk: "200000.00",
  btcControlAsk: "250000.00",
  ethBid: "1000.00",
  ethControlBid: "900.00",
};

/** The gateway's database on the embedded PostgreSQL (base port + 9; src/embedded-postgres.ts's password). */
function gatewayDatabaseUrl(basePort: number): string {
  return `postgres://postgres:excraft@127.0.0.1:${basePort + 9}/excraft`;
}

interface Key {
  apiKey: string;
  secret: string;
}

type ClientBody = NonNullable<ClientMessage["body"]>;

/** One connection of a MarketMaker/Session: numbered messages out, everything received kept. */
class MmConnection {
  readonly received: ServerMessage[] = [];
  readonly stream: ClientDuplexStream<ClientMessage, ServerMessage>;
  ended = false;
  private readonly client: MarketMakerClient;

  /** `seq`: the last inbound number used (a reconnect continues the session's numbering). */
  constructor(
    address: string,
    public seq = 0n,
  ) {
    this.client = new MarketMakerClient(address, credentials.createInsecure());
    this.stream = this.client.session();
    this.stream.on("data", (m: ServerMessage) => this.received.push(m));
    // The server dying ends the stream with an error (UNAVAILABLE / CANCELLED): expected here.
    this.stream.on("error", () => {
      this.ended = true;
    });
    this.stream.on("end", () => {
      this.ended = true;
    });
  }

  send(body: ClientBody): void {
    this.seq += 1n;
    this.stream.write({ seqNum: this.seq, body });
  }

  logon(key: Key, cancelOnDisconnect: boolean, lastReceivedSeqNum = 0n): void {
    const timestampMs = BigInt(Date.now());
    this.send({
      $case: "logon",
      value: {
        apiKey: key.apiKey,
        timestampMs,
        signature: sign(key.secret, `${key.apiKey}:${timestampMs}`),
        cancelOnDisconnect,
        lastReceivedSeqNum,
      },
    });
  }

  limit(clOrdId: string, symbol: string, side: Side, price: string, orderQty: string): void {
    this.send({
      $case: "newOrder",
      value: {
        clOrdId,
        symbol,
        side,
        ordType: OrderType.LIMIT,
        timeInForce: TimeInForce.GTC,
        price,
        orderQty,
        stopPx: "",
        selfTradePrevention: SelfTradePrevention.UNSPECIFIED,
      },
    });
  }

  next(what: string, match: (m: ServerMessage) => boolean): Promise<ServerMessage> {
    return until(
      () => `${what} (received: ${this.describe()})`,
      () => this.received.find(match),
      30_000,
      20,
    );
  }

  async logonAck() {
    const m = await this.next("LogonAck", (x) => x.body?.$case === "logonAck");
    if (m.body?.$case !== "logonAck") throw new Error("unreachable");
    return m.body.value;
  }

  async report(clOrdId: string, execType: string): Promise<{ seq: bigint; r: ExecutionReport }> {
    const m = await this.next(
      `ExecutionReport ${execType} of ${clOrdId}`,
      (x) =>
        x.body?.$case === "executionReport" &&
        x.body.value.clOrdId === clOrdId &&
        x.body.value.execType === execType,
    );
    if (m.body?.$case !== "executionReport") throw new Error("unreachable");
    return { seq: m.seqNum, r: m.body.value };
  }

  /**
   * Sends a Heartbeat and waits for its answer: the server handles a connection's messages in
   * order, so everything it wrote for the messages before (resends included) has arrived by then.
   */
  async roundTrip(): Promise<void> {
    const heartbeatsBefore = this.received.filter((m) => m.body?.$case === "heartbeat").length;
    this.send({ $case: "heartbeat", value: {} });
    await until(
      "the answer to a Heartbeat",
      () => this.received.filter((m) => m.body?.$case === "heartbeat").length > heartbeatsBefore,
      30_000,
      20,
    );
  }

  /** Sequenced messages (ExecutionReports and Rejects) in arrival order. */
  sequenced(): ServerMessage[] {
    return this.received.filter((m) => m.seqNum > 0n);
  }

  close(): void {
    if (!this.ended) this.stream.cancel();
    this.client.close();
  }

  private describe(): string {
    return JSON.stringify(
      this.received.map((m) => `${m.seqNum}:${m.body?.$case}`),
      (_key, value) => (typeof value === "bigint" ? value.toString() : value),
    );
  }
}

interface OrderJson {
  orderId: number;
  clientOrderId: string;
  symbol: string;
  status: string;
  executedQty: string;
}

/** asset → {free, locked} in 10^-8 units. */
type Balances = Map<string, { free: bigint; locked: bigint }>;

/** `base` with `held` (asset → amount) moved from free to locked. */
function withHolds(base: Balances, held: Record<string, bigint>): Balances {
  const result: Balances = new Map([...base].map(([asset, b]) => [asset, { ...b }]));
  for (const [asset, amount] of Object.entries(held)) {
    const b = result.get(asset)!;
    result.set(asset, { free: b.free - amount, locked: b.locked + amount });
  }
  return result;
}

function show(b: Balances): string {
  return [...b]
    .sort(([x], [y]) => (x < y ? -1 : 1))
    .map(([asset, { free, locked }]) => `${asset} free ${free} locked ${locked}`)
    .join(", ");
}

/** The demo trader's balances through GET /api/v3/account. */
async function balancesOf(client: SignedClient): Promise<Balances> {
  const response = await client("GET", "/account");
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  const list = (response.body as { balances: Balance[] }).balances;
  return new Map(list.map((b) => [b.asset, { free: units(b.free), locked: units(b.locked) }]));
}

/** Waits until the balances are `expected` (the wallet settles holds and releases asynchronously). */
function balancesBecome(client: SignedClient, what: string, expected: Balances): Promise<true> {
  let seen = "";
  return until(
    () => `${what}: want ${show(expected)}, have ${seen}`,
    async () => {
      seen = show(await balancesOf(client));
      return seen === show(expected);
    },
  );
}

describe("market-maker session across a crash of the standalone exchange", () => {
  const connections: MmConnection[] = [];
  const dataDirs: string[] = [];

  afterAll(async () => {
    for (const c of connections) c.close();
    await killAllExchanges();
    for (const dir of dataDirs) await rm(dir, { recursive: true, force: true });
  });

  /** A fresh data directory and port block; `start()` starts (and restarts) the exchange on them. */
  const freshExchange = async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "excraft-mm-crash-"));
    dataDirs.push(dataDir);
    const basePort = await freePortBlock(10);
    return {
      basePort,
      start: () =>
        startExchange(dataDir, basePort, {
          // The chain plays no part here; the bot stays on (its quotes are the market to stay far from).
          args: ["--no-chain"],
          env: {
            EXCRAFT_DEMO_API_KEY: DEMO_KEY,
            EXCRAFT_DEMO_API_SECRET: DEMO_SECRET,
            GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN,
          },
        }),
    };
  };
  const connect = (address: string, seq = 0n) => {
    const c = new MmConnection(address, seq);
    connections.push(c);
    return c;
  };
  const codKey: Key = { apiKey: DEMO_KEY, secret: DEMO_SECRET };

  it.each<{ scope: CrashScope; what: string }>([
    { scope: "process", what: "the exchange process (its PostgreSQL left running)" },
    { scope: "process group", what: "the exchange and its PostgreSQL" },
  ])(
    "after a SIGKILL of $what: the session's orders are cancelled, the others kept, every report resent",
    async ({ scope }) => {
      const { start } = await freshExchange();
      const first = start();
      await waitReady(first);
      // A second API key of the demo trader: its own market-maker session, on the same funds.
      const created = await fetch(`${first.httpUrl}/v1/accounts/demo-trader/api-keys`, {
        method: "POST",
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify({ permissions: ["read", "trade"], label: "control session" }),
      });
      expect(created.status).toBe(201);
      const { apiKey, secretKey } = (await created.json()) as { apiKey: string; secretKey: string };
      const controlKey: Key = { apiKey, secret: secretKey };

      const rest = signedRest(first.restUrl, DEMO_KEY, DEMO_SECRET);
      const funded = await balancesOf(rest);
      expect(funded.get("USDT")).toEqual({ free: 100_000n * 10n ** 8n, locked: 0n });

      // The controls: a REST order and an order of a session without cancel-on-disconnect.
      const restOrder = await rest("POST", "/order", {
        symbol: "ETHUSDT",
        side: "BUY",
        type: "LIMIT",
        timeInForce: "GTC",
        price: FAR.ethControlBid,
        quantity: "0.1000",
        newClientOrderId: "rest-control",
        newOrderRespType: "RESULT",
      });
      expect(restOrder.status, JSON.stringify(restOrder.body)).toBe(200);
      expect((restOrder.body as OrderJson).status).toBe("NEW");
      const control = connect(first.marketMakerAddress);
      control.logon(controlKey, false);
      await control.logonAck();
      control.limit("mm-control", "BTCUSDT", Side.SELL, FAR.btcControlAsk, "0.0100");
      expect((await control.report("mm-control", "0")).seq).toBe(1n);
      // 90 USDT (0.1 ETH at 900) and 0.01 BTC held by the controls.
      const withControls = withHolds(funded, { USDT: 9_000_000_000n, BTC: 1_000_000n });
      await balancesBecome(rest, "the controls' holds", withControls);

      // The cancel-on-disconnect session: three resting orders, one of them cancelled by the client.
      const cod = connect(first.marketMakerAddress);
      cod.logon(codKey, true);
      const ack = await cod.logonAck();
      expect(ack.lastSeqNum).toBe(0n);
      cod.limit("cod-btc-bid", "BTCUSDT", Side.BUY, FAR.btcBid, "0.0100"); // holds 500 USDT
      cod.limit("cod-btc-ask", "BTCUSDT", Side.SELL, FAR.btcAsk, "0.0200"); // holds 0.02 BTC
      cod.limit("cod-eth-bid", "ETHUSDT", Side.BUY, FAR.ethBid, "0.5000"); // holds 500 USDT
      const placed = [
        await cod.report("cod-btc-bid", "0"),
        await cod.report("cod-btc-ask", "0"),
        await cod.report("cod-eth-bid", "0"),
      ];
      expect(placed.map((p) => p.seq)).toEqual([1n, 2n, 3n]);
      cod.send({
        $case: "cancel",
        value: { clOrdId: "cod-eth-bid-cancel", origClOrdId: "cod-eth-bid", symbol: "ETHUSDT" },
      });
      expect((await cod.report("cod-eth-bid-cancel", "4")).seq).toBe(4n);
      await balancesBecome(
        rest,
        "the holds of the two resting orders of the session",
        withHolds(withControls, { USDT: 50_000_000_000n, BTC: 2_000_000n }),
      );
      await cod.roundTrip();
      const beforeCrash = cod.sequenced();
      expect(beforeCrash.map((m) => m.seqNum)).toEqual([1n, 2n, 3n, 4n]);

      // The crash: nothing of the exchange's shutdown runs.
      await crash(first, scope);
      expect(first.child.signalCode).toBe("SIGKILL");
      await until("the session's stream ended by the crash", () => cod.ended && control.ended, 30_000, 20);

      const second = start();
      await waitReady(second);
      const rest2 = signedRest(second.restUrl, DEMO_KEY, DEMO_SECRET);
      const order = async (symbol: string, clientOrderId: string) => {
        const response = await rest2("GET", "/order", { symbol, origClientOrderId: clientOrderId });
        expect(response.status, JSON.stringify(response.body)).toBe(200);
        return response.body as OrderJson;
      };
      // The restored cancel-on-disconnect session loses its resting orders.
      await until("the session's orders cancelled after the restart", async () => {
        const open = (await rest2("GET", "/openOrders", { symbol: "BTCUSDT" })).body as OrderJson[];
        return Array.isArray(open) && !open.some((o) => o.clientOrderId.startsWith("cod-"));
      });
      for (const [symbol, clientOrderId] of [
        ["BTCUSDT", "cod-btc-bid"],
        ["BTCUSDT", "cod-btc-ask"],
        ["ETHUSDT", "cod-eth-bid"],
      ] as const) {
        expect(await order(symbol, clientOrderId)).toMatchObject({
          status: "CANCELED",
          executedQty: "0.00000000",
        });
      }
      // The same account's other orders are untouched.
      expect(await order("ETHUSDT", "rest-control")).toMatchObject({ status: "NEW" });
      expect(await order("BTCUSDT", "mm-control")).toMatchObject({ status: "NEW" });
      const allOpen = (await rest2("GET", "/openOrders")).body as OrderJson[];
      expect(allOpen.map((o) => o.clientOrderId).sort()).toEqual(["mm-control", "rest-control"]);
      // Funds: exactly what the controls hold is locked again, nothing lost or kept.
      await balancesBecome(rest2, "the session's holds released", withControls);

      // Re-logon where the client left off (report 4, inbound numbering continued): the two
      // cancellations of the restart come as 5 and 6, then nothing else.
      const again = connect(second.marketMakerAddress, cod.seq);
      again.logon(codKey, true, 4n);
      const ack2 = await again.logonAck();
      expect(ack2).toEqual({
        sessionId: ack.sessionId,
        nextExpectedSeqNum: cod.seq + 2n,
        lastSeqNum: 6n,
      });
      await again.roundTrip();
      const missed = again.sequenced();
      expect(missed.map((m) => m.seqNum)).toEqual([5n, 6n]);
      const cancellations = missed.map((m) => {
        if (m.body?.$case !== "executionReport") throw new Error(`not a report: ${m.body?.$case}`);
        return m.body.value;
      });
      const orderIdOf = new Map(placed.map((p) => [p.r.clOrdId, p.r.orderId]));
      expect(cancellations.map((r) => r.clOrdId).sort()).toEqual(["cod-btc-ask", "cod-btc-bid"]);
      for (const r of cancellations) {
        expect(r).toMatchObject({
          orderId: orderIdOf.get(r.clOrdId),
          execType: "4",
          ordStatus: "4",
          text: "CANCEL_ON_DISCONNECT",
          cumQty: "0.00000000",
          leavesQty: "0.00000000",
        });
      }

      // A full ResendRequest: 1..6 without a gap, the reports of before the crash as they were sent.
      again.send({ $case: "resend", value: { beginSeqNum: 1n, endSeqNum: 0n } });
      await again.roundTrip();
      const resent = again.sequenced().slice(missed.length);
      expect(resent.map((m) => m.seqNum)).toEqual([1n, 2n, 3n, 4n, 5n, 6n]);
      expect(resent.slice(0, 4)).toEqual(beforeCrash);
      expect(resent.slice(4)).toEqual(missed);

      // The control session got nothing while it was away: its one report is still the last.
      const controlAgain = connect(second.marketMakerAddress, control.seq);
      controlAgain.logon(controlKey, false, 1n);
      expect(await controlAgain.logonAck()).toMatchObject({ lastSeqNum: 1n });
      await controlAgain.roundTrip();
      expect(controlAgain.sequenced()).toEqual([]);
    },
    300_000,
  );

  it("after a crash with an order in flight (in the book, its report not yet durable), that order is cancelled too", async () => {
    const { basePort, start } = await freshExchange();
    const first = start();
    await waitReady(first);
    const rest = signedRest(first.restUrl, DEMO_KEY, DEMO_SECRET);
    const funded = await balancesOf(rest);
    const cod = connect(first.marketMakerAddress);
    cod.logon(codKey, true);
    const ack = await cod.logonAck();

    // Freeze the order projection where it writes the session's orders: the engine takes the order
    // in, its ExecutionReport (derived in the projection's transaction) cannot become durable.
    const freezer = new pg.Client({ connectionString: gatewayDatabaseUrl(basePort) });
    freezer.on("error", () => {}); // its server dies in the crash below
    await freezer.connect();
    await freezer.query("begin");
    await freezer.query("lock table og_mm_orders in exclusive mode");
    cod.limit("cod-in-flight", "BTCUSDT", Side.BUY, FAR.btcBid, "0.0100"); // holds 500 USDT
    const engine = new MatchingEngineClient(first.engineAddress, credentials.createInsecure());
    await until("the order in the engine's book", async () => {
      const book = await new Promise<BookSnapshot>((resolve, reject) =>
        engine.getOrderBook({ symbol: "BTCUSDT", depth: 50 }, (error, response) =>
          error ? reject(error) : resolve(response),
        ),
      );
      return book.bids.some((level) => level.price === 5_000_000n && level.quantity === 100n);
    });
    engine.close();
    await cod.roundTrip();
    expect(cod.sequenced()).toEqual([]); // no report of it reached the client

    await crash(first, "process group");
    await freezer.end().catch(() => {});
    const second = start();
    await waitReady(second);
    const rest2 = signedRest(second.restUrl, DEMO_KEY, DEMO_SECRET);
    // The restarted projection learns of the order from its engine events (the command id names
    // the session); the session is cancel-on-disconnect and not logged on: the order must go.
    const projected = await until("the order projected after the restart", async () => {
      const response = await rest2("GET", "/order", {
        symbol: "BTCUSDT",
        origClientOrderId: "cod-in-flight",
      });
      return response.status === 200 ? (response.body as OrderJson) : undefined;
    });
    expect(projected.executedQty).toBe("0.00000000");
    let status = projected.status;
    await until(
      () => `cod-in-flight cancelled by cancel-on-disconnect (status ${status})`,
      async () => {
        const response = await rest2("GET", "/order", {
          symbol: "BTCUSDT",
          origClientOrderId: "cod-in-flight",
        });
        status = (response.body as OrderJson).status;
        return status === "CANCELED";
      },
    );
    await balancesBecome(rest2, "the order's hold released", funded);

    // Logged on again, the client gets both reports of the order: NEW, then the cancellation.
    const again = connect(second.marketMakerAddress, cod.seq);
    again.logon(codKey, true, 0n);
    expect(await again.logonAck()).toEqual({
      sessionId: ack.sessionId,
      nextExpectedSeqNum: cod.seq + 2n,
      lastSeqNum: 2n,
    });
    await again.roundTrip();
    const reports = again.sequenced().map((m) => {
      if (m.body?.$case !== "executionReport") throw new Error(`not a report: ${m.body?.$case}`);
      return {
        seq: m.seqNum,
        clOrdId: m.body.value.clOrdId,
        execType: m.body.value.execType,
        text: m.body.value.text,
      };
    });
    expect(reports).toEqual([
      { seq: 1n, clOrdId: "cod-in-flight", execType: "0", text: "" },
      { seq: 2n, clOrdId: "cod-in-flight", execType: "4", text: "CANCEL_ON_DISCONNECT" },
    ]);
  }, 300_000);
});
