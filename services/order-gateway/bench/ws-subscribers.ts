/**
 * WebSocket subscribers for the fan-out phase of gateway-bench.ts, in their own process (forked):
 * N connections to `/stream?streams=<s>@depth@100ms/<s>@trade`, each checking its own continuity
 * (depth: U = previous u + 1; trades: t = previous t + 1, the engine's trade ids are contiguous per
 * market) and the delivery lag = receive time − the event's `E` (the gateway's emission time,
 * `Date.now()` taken right before the fan-out loop; same machine, same clock). For trades the lag
 * from `T` (the engine's trade time) is recorded too: it adds the projector's durable batch.
 *
 * IPC: ← {type:"connect"} → {type:"connected"}; ← {type:"start"} (reset counters);
 * ← {type:"report"} → {type:"report", ...}; ← {type:"stop"} → exits.
 */
import * as hdr from "hdr-histogram-js";
import WebSocket from "ws";

const [url, countText] = process.argv.slice(2);
const COUNT = Number(countText);
const send = (message: unknown) => process.send?.(message);

export interface SubscriberReport {
  type: "report";
  subscribers: number;
  open: number;
  silent: number;
  depthMessages: number;
  tradeMessages: number;
  depthGaps: number;
  tradeGaps: number;
  slowConsumerCloses: number;
  otherCloses: number;
  errors: number;
  seconds: number;
  /** CPU of this process while measuring, in cores. */
  cpuCores: number;
  depthLagMs: Percentiles;
  tradeLagMs: Percentiles;
  tradeEngineLagMs: Percentiles;
}
export interface Percentiles {
  count: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

const newHistogram = () =>
  hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000, numberOfSignificantValueDigits: 3 });
let depthLag = newHistogram();
let tradeLag = newHistogram();
let tradeEngineLag = newHistogram();
const counts = { depth: 0, trade: 0, depthGaps: 0, tradeGaps: 0, slow: 0, otherCloses: 0, errors: 0 };
let startedAt = Date.now();
let cpuAtStart = process.cpuUsage();
let stopping = false;

interface Sub {
  ws: WebSocket;
  lastU: number;
  lastT: number;
  messages: number;
  open: boolean;
}
const subs: Sub[] = [];

function onMessage(sub: Sub, raw: WebSocket.RawData): void {
  const received = Date.now();
  const { data } = JSON.parse(raw.toString()) as { data: Record<string, number> & { e: string } };
  sub.messages++;
  if (data.e === "depthUpdate") {
    counts.depth++;
    depthLag.recordValue(Math.max(1, received - data.E));
    if (sub.lastU >= 0 && data.U !== sub.lastU + 1) counts.depthGaps++;
    sub.lastU = data.u;
  } else if (data.e === "trade") {
    counts.trade++;
    tradeLag.recordValue(Math.max(1, received - data.E));
    tradeEngineLag.recordValue(Math.max(1, received - data.T));
    if (sub.lastT >= 0 && data.t !== sub.lastT + 1) counts.tradeGaps++;
    sub.lastT = data.t;
  }
}

function connectOne(): Promise<void> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    const sub: Sub = { ws, lastU: -1, lastT: -1, messages: 0, open: false };
    subs.push(sub);
    ws.on("open", () => {
      sub.open = true;
      resolve();
    });
    ws.on("message", (raw) => onMessage(sub, raw));
    ws.on("close", (code, reason) => {
      const wasOpen = sub.open;
      sub.open = false;
      if (stopping) return;
      if (code === 1008 && reason.toString() === "slow consumer") counts.slow++;
      else if (wasOpen) counts.otherCloses++;
      resolve();
    });
    ws.on("error", () => {
      counts.errors++;
      resolve();
    });
  });
}

function percentiles(h: hdr.Histogram): Percentiles {
  return {
    count: h.totalCount,
    p50: h.getValueAtPercentile(50),
    p99: h.getValueAtPercentile(99),
    p999: h.getValueAtPercentile(99.9),
    max: h.maxValue,
  };
}

process.on("message", async (message: { type: string }) => {
  if (message.type === "connect") {
    const started = Date.now();
    for (let i = 0; i < COUNT; i += 250) {
      await Promise.all(Array.from({ length: Math.min(250, COUNT - i) }, connectOne));
    }
    send({ type: "connected", open: subs.filter((s) => s.open).length, ms: Date.now() - started });
  } else if (message.type === "start") {
    depthLag = newHistogram();
    tradeLag = newHistogram();
    tradeEngineLag = newHistogram();
    for (const key of Object.keys(counts) as (keyof typeof counts)[]) counts[key] = 0;
    for (const sub of subs) sub.messages = 0;
    startedAt = Date.now();
    cpuAtStart = process.cpuUsage();
    send({ type: "started" });
  } else if (message.type === "report") {
    const cpu = process.cpuUsage(cpuAtStart);
    const seconds = (Date.now() - startedAt) / 1000;
    const report: SubscriberReport = {
      type: "report",
      subscribers: subs.length,
      open: subs.filter((s) => s.open).length,
      silent: subs.filter((s) => s.messages === 0).length,
      depthMessages: counts.depth,
      tradeMessages: counts.trade,
      depthGaps: counts.depthGaps,
      tradeGaps: counts.tradeGaps,
      slowConsumerCloses: counts.slow,
      otherCloses: counts.otherCloses,
      errors: counts.errors,
      seconds,
      cpuCores: Number(((cpu.user + cpu.system) / 1e6 / seconds).toFixed(2)),
      depthLagMs: percentiles(depthLag),
      tradeLagMs: percentiles(tradeLag),
      tradeEngineLagMs: percentiles(tradeEngineLag),
    };
    send(report);
  } else if (message.type === "stop") {
    stopping = true;
    for (const sub of subs) sub.ws.terminate();
    process.exit(0);
  }
});
process.on("disconnect", () => process.exit(0));
send({ type: "loaded" });
