/** A market-maker client of the `MarketMaker` gRPC session, for tests. */
import {
  type ClientMessage,
  type ExecutionReport,
  type MarketMakerClient,
  OrderType,
  SelfTradePrevention,
  type ServerMessage,
  type Side,
  TimeInForce,
} from "@excraft/proto";
import type { ClientDuplexStream } from "@grpc/grpc-js";
import { sign } from "../../src/index.ts";
import { waitUntil } from "./harness.ts";
import type { Key } from "./order-harness.ts";

type Body = NonNullable<ClientMessage["body"]>;
type Report = ExecutionReport;

/** One market-maker connection: sends numbered messages, collects what the server sends. */
export class Mm {
  readonly stream: ClientDuplexStream<ClientMessage, ServerMessage>;
  readonly received: ServerMessage[] = [];
  private readonly consumed = new Set<ServerMessage>();
  seq = 0n;
  ended = false;

  constructor(readonly client: MarketMakerClient) {
    this.stream = client.session();
    this.stream.on("data", (m: ServerMessage) => this.received.push(m));
    this.stream.on("error", () => {
      this.ended = true;
    });
    this.stream.on("end", () => {
      this.ended = true;
    });
  }

  send(body: Body, seqNum = ++this.seq): void {
    this.stream.write({ seqNum, body });
  }

  logon(key: Key, o: { cod?: boolean; lastReceived?: bigint; timestamp?: number; signature?: string } = {}) {
    const timestampMs = BigInt(o.timestamp ?? Date.now());
    this.send({
      $case: "logon",
      value: {
        apiKey: key.apiKey,
        timestampMs,
        signature: o.signature ?? sign(key.secretKey, `${key.apiKey}:${timestampMs}`),
        cancelOnDisconnect: o.cod ?? false,
        lastReceivedSeqNum: o.lastReceived ?? 0n,
      },
    });
  }

  /** The first not yet consumed message matching `match`. */
  async next(what: string, match: (m: ServerMessage) => boolean, timeoutMs = 10_000): Promise<ServerMessage> {
    let found: ServerMessage | undefined;
    await waitUntil(
      `${what} (got ${JSON.stringify(this.received.map((m) => m.body?.$case))})`,
      () => {
        found = this.received.find((m) => !this.consumed.has(m) && match(m));
        return found !== undefined;
      },
      timeoutMs,
    );
    this.consumed.add(found!);
    return found!;
  }

  async report(clOrdId: string, execType: string): Promise<{ seq: bigint; r: Report }> {
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

  async reject(what: string, code?: string) {
    const m = await this.next(
      `Reject ${what}`,
      (x) => x.body?.$case === "reject" && (code === undefined || x.body.value.error?.code === code),
    );
    if (m.body?.$case !== "reject") throw new Error("unreachable");
    return { seq: m.seqNum, r: m.body.value };
  }

  async logonAck() {
    const m = await this.next("LogonAck", (x) => x.body?.$case === "logonAck");
    if (m.body?.$case !== "logonAck") throw new Error("unreachable");
    return m.body.value;
  }

  order(clOrdId: string, side: Side, price: string, qty: string, extra: Partial<Body["value"]> = {}) {
    this.send({
      $case: "newOrder",
      value: {
        clOrdId,
        symbol: "BTCUSDT",
        side,
        ordType: OrderType.LIMIT,
        timeInForce: TimeInForce.GTC,
        price,
        orderQty: qty,
        stopPx: "",
        selfTradePrevention: SelfTradePrevention.UNSPECIFIED,
        ...extra,
      },
    });
  }

  /** Sequenced messages received (ExecutionReports and Rejects), by seq_num. */
  sequenced(): ServerMessage[] {
    return this.received.filter((m) => m.seqNum > 0n);
  }

  break(): void {
    this.stream.cancel();
  }
}
