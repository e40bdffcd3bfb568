/**
 * Load over the market-maker gRPC stream (`excraft.v1.MarketMaker/Session`): one session per bench
 * account, each logged on (HMAC of "<apiKey>:<timestamp>") and keeping `window` NewOrderSingle in
 * flight. Latency = NewOrderSingle written → the first ExecutionReport (or Reject) carrying its
 * ClOrdID, which the server sends once the engine's events for the order are durable.
 */
import { createHmac } from "node:crypto";
import {
  type ClientMessage,
  MarketMakerClient,
  OrderType,
  type ServerMessage,
  Side,
  TimeInForce,
} from "@excraft/proto";
import { credentials } from "@grpc/grpc-js";
import * as hdr from "hdr-histogram-js";

export interface GrpcLoadOptions {
  address: string;
  keys: { apiKey: string; secretKey: string }[];
  symbol: string;
  /** Next order's price text and side. */
  nextOrder: () => { side: "BUY" | "SELL"; price: string; quantity: string };
  sessions: number;
  window: number;
  seconds: number;
  progress: (message: string) => void;
}

export interface GrpcLoadResult {
  sessions: number;
  loggedOn: number;
  window: number;
  seconds: number;
  ok: number;
  perSecond: number;
  latencyMs: { p50: number; p99: number; p999: number; max: number };
  rejects: Record<string, number>;
  unanswered: number;
  /** Latency in µs. */
  histogram: hdr.Histogram;
}

export async function grpcOrderLoad(o: GrpcLoadOptions): Promise<GrpcLoadResult> {
  const histogram = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 120_000_000,
    numberOfSignificantValueDigits: 3,
  });
  const rejects: Record<string, number> = {};
  let ok = 0;
  let running = true;
  let loggedOn = 0;
  let unanswered = 0;
  const clients: MarketMakerClient[] = [];
  const finished: Promise<void>[] = [];
  const started = performance.now();

  for (let s = 0; s < o.sessions; s++) {
    const key = o.keys[s % o.keys.length]!;
    const client = new MarketMakerClient(o.address, credentials.createInsecure());
    clients.push(client);
    const stream = client.session();
    let seq = 0n;
    let n = 0;
    const inFlight = new Map<string, number>();
    const write = (body: NonNullable<ClientMessage["body"]>) => stream.write({ seqNum: ++seq, body });
    const sendOrder = () => {
      const order = o.nextOrder();
      const clOrdId = `g${s}-${++n}`;
      inFlight.set(clOrdId, performance.now());
      write({
        $case: "newOrder",
        value: {
          clOrdId,
          symbol: o.symbol,
          side: order.side === "BUY" ? Side.BUY : Side.SELL,
          ordType: OrderType.LIMIT,
          timeInForce: TimeInForce.GTC,
          price: order.price,
          orderQty: order.quantity,
          stopPx: "",
          selfTradePrevention: 0,
        },
      });
    };
    finished.push(
      new Promise<void>((resolve) => {
        let drained: (() => void) | undefined;
        const answered = (clOrdId: string) => {
          const sentAt = inFlight.get(clOrdId);
          if (sentAt === undefined) return false;
          inFlight.delete(clOrdId);
          histogram.recordValue(Math.max(1, Math.round((performance.now() - sentAt) * 1000)));
          if (running) sendOrder();
          else if (inFlight.size === 0) drained?.();
          return true;
        };
        stream.on("data", (m: ServerMessage) => {
          const body = m.body;
          if (body?.$case === "logonAck") {
            loggedOn++;
            for (let i = 0; i < o.window; i++) sendOrder();
          } else if (body?.$case === "executionReport") {
            const inWindow = running;
            if (answered(body.value.clOrdId) && inWindow) ok++;
          } else if (body?.$case === "reject") {
            const code = body.value.error?.code ?? "?";
            if (answered(body.value.clOrdId)) rejects[code] = (rejects[code] ?? 0) + 1;
            else if (body.value.clOrdId === "")
              rejects[`session ${code}`] = (rejects[`session ${code}`] ?? 0) + 1;
          } else if (body?.$case === "gap") {
            rejects.SequenceGap = (rejects.SequenceGap ?? 0) + 1;
          }
        });
        stream.on("error", () => resolve());
        stream.on("end", () => resolve());
        const timestampMs = BigInt(Date.now());
        write({
          $case: "logon",
          value: {
            apiKey: key.apiKey,
            timestampMs,
            signature: createHmac("sha256", key.secretKey)
              .update(`${key.apiKey}:${timestampMs}`)
              .digest("hex"),
            cancelOnDisconnect: false,
            lastReceivedSeqNum: 0n,
          },
        });
        setTimeout(() => {
          running = false;
          const done = () => {
            unanswered += inFlight.size;
            stream.end();
            resolve();
          };
          if (inFlight.size === 0) return done();
          drained = done;
          setTimeout(done, 5_000).unref(); // answers still missing after 5 s are counted, not waited for
        }, o.seconds * 1000);
      }),
    );
  }
  const ticker = setInterval(() => o.progress(`gRPC stream: ${ok} ok so far`), 5_000);
  await Promise.all(finished);
  clearInterval(ticker);
  const seconds = (performance.now() - started) / 1000;
  for (const client of clients) client.close();
  const ms = (p: number) => Number((histogram.getValueAtPercentile(p) / 1000).toFixed(3));
  return {
    sessions: o.sessions,
    loggedOn,
    window: o.window,
    seconds: Number(seconds.toFixed(2)),
    ok,
    perSecond: Math.round(ok / o.seconds),
    latencyMs: {
      p50: ms(50),
      p99: ms(99),
      p999: ms(99.9),
      max: Number((histogram.maxValue / 1000).toFixed(3)),
    },
    rejects,
    unanswered,
    histogram,
  };
}
