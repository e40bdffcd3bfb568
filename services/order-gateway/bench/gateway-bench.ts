/**
 * Order gateway under load, one-process mode: `npm run bench:gateway [-- --quick]`.
 *
 * The exchange (real PostgreSQL, embedded event log durable in it, engine shard, wallet, gateway —
 * wired like `npm start`) runs in a forked child (bench/exchange.ts); this process is the load
 * generator (autocannon, keep-alive HTTP/1.1, a fresh timestamp + HMAC signature per request via
 * `setupRequest`); the WebSocket subscribers run in a third process (bench/ws-subscribers.ts). No
 * two of them share an event loop. Loopback only; every phase is bounded in time.
 *
 * Phases: warm-up → peer GET /api/v3/ping (same server, same load generator, no order path) →
 * signed POST /api/v3/order LIMIT GTC with newOrderRespType ACK, then RESULT (64 connections), then
 * ACK over 1 connection (the latency floor) → the market-maker gRPC stream when the gateway has one
 * (bench/grpc-load.ts: 8 sessions × 8 NewOrderSingle in flight; latency to the first
 * ExecutionReport) → WebSocket fan-out (N subscribers to `@depth@100ms` and `@trade` while orders
 * flow at a fixed rate). Around each phase: exchange-process CPU, PostgreSQL CPU, machine busy share,
 * server-side stage timings of the order path (bench/exchange.ts), optionally a CPU profile.
 * Every figure printed is measured in this run. Writes bench/results/gateway.json.
 *
 * Options: --quick (~30 s), --seconds <per phase>, --connections <HTTP connections>,
 * --subscribers <n>, --fanout-rate <orders/s during fan-out>, --cpu-prof (a V8 CPU profile of the
 * exchange process per phase, through its inspector, into --prof-dir (default a temp dir), with the
 * self time by package printed), --fanout-only (only the fan-out phase, against a fresh exchange;
 * printed, the results file is left alone), --pg-statements (pg_stat_statements on: each phase
 * prints and records the statements with the most PostgreSQL time), --grpc-deep-window <n> (orders in
 * flight per MarketMaker session in the second gRPC phase; default 128, 0 skips it; --quick skips it).
 */
import { type ChildProcess, fork } from "node:child_process";
import { createHmac } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { mulberry32 } from "@excraft/testkit";
import autocannon, { type Request as CannonRequest } from "autocannon";
import * as hdr from "hdr-histogram-js";
import type { ReadyMessage, StatsMessage } from "./exchange.ts";
import { grpcOrderLoad } from "./grpc-load.ts";
import { type ProfileShare, summarizeProfile } from "./profile-summary.ts";
import type { SubscriberReport } from "./ws-subscribers.ts";

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    seconds: { type: "string" },
    connections: { type: "string", default: "64" },
    subscribers: { type: "string" },
    "fanout-rate": { type: "string", default: "100" },
    "fanout-only": { type: "boolean", default: false },
    "cpu-prof": { type: "boolean", default: false },
    "pg-statements": { type: "boolean", default: false },
    "grpc-deep-window": { type: "string" },
    "prof-dir": { type: "string" },
  },
});
const QUICK = values.quick === true;
const SECONDS = Number(values.seconds ?? (QUICK ? 3 : 20));
const CONNECTIONS = Number(values.connections);
const SUBSCRIBERS = Number(values.subscribers ?? (QUICK ? 1_000 : 5_000));
const FANOUT_RATE = Number(values["fanout-rate"]);
const FANOUT_CONNECTIONS = Math.min(25, FANOUT_RATE);
const FANOUT_ONLY = values["fanout-only"] === true;
/** NewOrderSingles in flight per session in the deep-pipeline gRPC phase (0 = skip it). */
const GRPC_DEEP_WINDOW = Number(values["grpc-deep-window"] ?? (QUICK ? 0 : 128));
const here = dirname(fileURLToPath(import.meta.url));
const PROFILE = values["cpu-prof"] === true;
const profDir = values["prof-dir"] ?? (PROFILE ? mkdtempSync(join(tmpdir(), "gateway-prof-")) : "");
if (PROFILE) mkdirSync(profDir, { recursive: true });
const resultsFile = join(here, "../../../bench/results/gateway.json");
const TARGETS = {
  restOrdersPerSec: 20_000,
  restP99Ms: 10,
  grpcOrdersPerSec: 50_000,
  grpcP99Ms: 2,
  fanoutP99Ms: 50,
};

const progress = (message: string) => console.log(`[bench] ${message}`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ------------------------------------------------------------------------------ child processes

function forkTs(file: string, args: string[]): ChildProcess {
  return fork(join(here, file), args, {
    execArgv: process.execArgv, // tsx's loader, as this process runs
    env: values["pg-statements"] ? { ...process.env, BENCH_PG_STATEMENTS: "1" } : process.env,
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
}

function nextMessage<T>(child: ChildProcess, type: string, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`no "${type}" message within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (message: { type?: string }) => {
      if (message?.type !== type) return;
      cleanup();
      resolve(message as T);
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`child exited (${code}) while waiting for "${type}"`));
    };
    const cleanup = () => {
      clearTimeout(timer);
      child.off("message", onMessage);
      child.off("exit", onExit);
    };
    child.on("message", onMessage);
    child.on("exit", onExit);
  });
}

function stopChild(child: ChildProcess, timeoutMs = 20_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      resolve();
    }, timeoutMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.send({ type: "stop" });
  });
}

// ------------------------------------------------------------------------------ load phases

interface Percentiles {
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

interface PhaseResult {
  name: string;
  connections: number;
  seconds: number;
  ok: number;
  perSecond: number;
  latencyMs: Percentiles;
  non2xx: number;
  socketErrors: number;
  timeouts: number;
  errorCodes: Record<string, number>;
  statuses: Record<string, number>;
  exchangeCpuCores: number;
  engineBacklogAtEnd: number;
  /** Share of the whole machine busy (all processes, all cores) and PostgreSQL's processes in cores. */
  machineBusy?: number;
  postgresCpuCores?: number;
  stages: StatsMessage["stages"];
  statements?: StatsMessage["statements"];
  /** CPU per request of the phase: the exchange process and PostgreSQL, in µs (what bounds the rate). */
  cpuMicrosPerOp?: { exchange?: number; postgres?: number };
  poolWaiting: StatsMessage["poolWaiting"];
  profile?: { file: string; top: ProfileShare[] };
}

interface LoadOptions {
  name: string;
  request: CannonRequest;
  connections: number;
  seconds: number;
  connectionRate?: number;
  errorCodes: Record<string, number>;
  statuses: Record<string, number>;
}

const round = (n: number, digits = 3) => Number(n.toFixed(digits));

/** Linux /proc: whole-machine busy and total jiffies, and the jiffies of every `postgres` process. */
function cpuSample(): { busy: number; total: number; postgres: number } | undefined {
  try {
    const fields = readFileSync("/proc/stat", "utf8")
      .split("\n")[0]!
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    const total = fields.reduce((a, b) => a + b, 0);
    let postgres = 0;
    for (const pid of readdirSync("/proc")) {
      if (!/^\d+$/.test(pid)) continue;
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        const close = stat.lastIndexOf(")");
        if (!stat.slice(stat.indexOf("(") + 1, close).startsWith("postgres")) continue;
        const rest = stat.slice(close + 2).split(" ");
        postgres += Number(rest[11]) + Number(rest[12]); // utime + stime
      } catch {}
    }
    return { busy: total - idle, total, postgres };
  } catch {
    return undefined;
  }
}

async function exchangeStats(exchange: ChildProcess): Promise<StatsMessage> {
  const reply = nextMessage<StatsMessage>(exchange, "stats", 10_000);
  exchange.send({ type: "stats" });
  return reply;
}

interface RunOutcome {
  seconds: number;
  ok: number;
  /** Latency in µs. */
  histogram: hdr.Histogram;
  non2xx: number;
  socketErrors: number;
  timeouts: number;
}

const newHistogram = () =>
  hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 120_000_000,
    numberOfSignificantValueDigits: 3,
  });

/** autocannon over keep-alive connections; latency = request written → response parsed. */
function cannon(url: string, o: LoadOptions): Promise<RunOutcome> {
  const histogram = newHistogram();
  let ok = 0;
  return new Promise<RunOutcome>((resolve, reject) => {
    const instance = autocannon(
      {
        url,
        connections: o.connections,
        pipelining: 1,
        duration: o.seconds,
        timeout: 10,
        connectionRate: o.connectionRate,
        requests: [o.request],
      },
      (error, r) =>
        error
          ? reject(error)
          : resolve({
              seconds: r.duration,
              ok,
              histogram,
              non2xx: r.non2xx,
              socketErrors: r.errors,
              timeouts: r.timeouts,
            }),
    );
    instance.on("response", (_client, status, _bytes, ms) => {
      if (status >= 200 && status < 300) ok++;
      histogram.recordValue(Math.max(1, Math.round(ms * 1000))); // µs
    });
    let seconds = 0;
    instance.on("tick", () => {
      if (++seconds % 5 === 0 && seconds < o.seconds)
        progress(`${o.name}: ${seconds}/${o.seconds} s, ${ok} ok so far`);
    });
  });
}

/** Runs one phase and measures around it: exchange CPU and stage timings, PostgreSQL and machine CPU, a profile. */
async function measure(
  exchange: ChildProcess,
  o: {
    name: string;
    connections: number;
    errorCodes: Record<string, number>;
    statuses: Record<string, number>;
  },
  run: () => Promise<RunOutcome>,
): Promise<PhaseResult> {
  const before = await exchangeStats(exchange);
  exchange.send({ type: "reset" });
  const profileFile = PROFILE
    ? join(profDir, `${o.name.replace(/[^A-Za-z0-9]+/g, "-")}.cpuprofile`)
    : undefined;
  if (profileFile) {
    const profiling = nextMessage(exchange, "profiling", 10_000);
    exchange.send({ type: "profile-start" });
    await profiling;
  }
  const cpuBefore = cpuSample();
  const wallStart = performance.now();
  const result = await run();
  const wallSeconds = (performance.now() - wallStart) / 1000;
  const cpuAfter = cpuSample();
  if (profileFile) {
    const profiled = nextMessage(exchange, "profiled", 60_000);
    exchange.send({ type: "profile-stop", file: profileFile });
    await profiled;
  }
  const ticksPerCore = cpuAfter && cpuBefore ? (cpuAfter.total - cpuBefore.total) / cpus().length : 0;
  const after = await exchangeStats(exchange);
  const cpuMs = after.cpuUserMs + after.cpuSystemMs - before.cpuUserMs - before.cpuSystemMs;
  const { histogram } = result;
  const ms = (percentile: number) => round(histogram.getValueAtPercentile(percentile) / 1000);
  const phase: PhaseResult = {
    name: o.name,
    connections: o.connections,
    seconds: round(result.seconds, 2),
    ok: result.ok,
    perSecond: Math.round(result.ok / result.seconds),
    latencyMs: { p50: ms(50), p99: ms(99), p999: ms(99.9), max: round(histogram.maxValue / 1000) },
    non2xx: result.non2xx,
    socketErrors: result.socketErrors,
    timeouts: result.timeouts,
    errorCodes: o.errorCodes,
    statuses: o.statuses,
    exchangeCpuCores: round(cpuMs / 1000 / wallSeconds, 2),
    engineBacklogAtEnd: after.engineBacklog,
    machineBusy:
      cpuAfter && cpuBefore
        ? round((cpuAfter.busy - cpuBefore.busy) / (cpuAfter.total - cpuBefore.total), 2)
        : undefined,
    postgresCpuCores:
      cpuAfter && cpuBefore && ticksPerCore > 0
        ? round((cpuAfter.postgres - cpuBefore.postgres) / ticksPerCore, 2)
        : undefined,
    stages: after.stages,
    statements: after.statements,
    cpuMicrosPerOp: undefined,
    poolWaiting: after.poolWaiting,
    profile: profileFile ? { file: profileFile, top: summarizeProfile(profileFile) } : undefined,
  };
  progress(
    `${o.name}: ${phase.perSecond}/s, p50 ${phase.latencyMs.p50} ms, p99 ${phase.latencyMs.p99} ms, ` +
      `errors ${phase.non2xx + phase.socketErrors + phase.timeouts}, exchange CPU ${phase.exchangeCpuCores} cores, ` +
      `postgres CPU ${phase.postgresCpuCores ?? "?"} cores, machine ${Math.round((phase.machineBusy ?? 0) * 100)}% busy, ` +
      `engine backlog ${phase.engineBacklogAtEnd}`,
  );
  if (phase.perSecond > 0) {
    const per = (cores: number | undefined) =>
      cores === undefined ? undefined : Math.round((cores * 1e6) / phase.perSecond);
    phase.cpuMicrosPerOp = { exchange: per(phase.exchangeCpuCores), postgres: per(phase.postgresCpuCores) };
  }
  for (const st of phase.statements ?? []) {
    progress(`  pg ${st.ms} ms ${st.calls} calls ${st.rows} rows: ${st.query}`);
  }
  return phase;
}

const load = (exchange: ChildProcess, url: string, o: LoadOptions) =>
  measure(exchange, o, () => cannon(url, o));

/** Waits until the engine consumed every order published so far (bounded). */
async function drain(exchange: ChildProcess, limitMs = 30_000): Promise<number> {
  const deadline = Date.now() + limitMs;
  let stats = await exchangeStats(exchange);
  while (stats.engineBacklog > 0 && Date.now() < deadline) {
    await sleep(250);
    stats = await exchangeStats(exchange);
  }
  return stats.engineBacklog;
}

// ------------------------------------------------------------------------------ signed orders

const MID_TICKS = 3_000_000; // 30 000.00 USDT
const QUANTITY = "0.0010"; // 10 lots: 30 USDT, over the 5 USDT minimum notional

/** BUYs at mid −10…+9 ticks, SELLs at mid −9…+10: about half rest, the rest cross the resting side. */
function randomOrder(rnd: () => number): { buy: boolean; ticks: number } {
  const buy = rnd() < 0.5;
  const offset = Math.floor(rnd() * 20);
  return { buy, ticks: buy ? MID_TICKS - 10 + offset : MID_TICKS + 10 - offset };
}

function priceText(ticks: number, scale: number): string {
  const s = String(ticks).padStart(scale + 1, "0");
  return `${s.slice(0, -scale)}.${s.slice(-scale)}`;
}

/** LIMIT GTC orders (`randomOrder`), each signed with a fresh timestamp by one of the bench accounts in turn. */
function orderRequest(
  ready: ReadyMessage,
  respType: "ACK" | "RESULT",
  seed: number,
  errorCodes: Record<string, number>,
  statuses: Record<string, number>,
): CannonRequest {
  const rnd = mulberry32(seed);
  let n = 0;
  return {
    method: "POST",
    path: "/api/v3/order",
    setupRequest(request) {
      const key = ready.keys[n++ % ready.keys.length]!;
      const { buy, ticks } = randomOrder(rnd);
      const text =
        `symbol=${ready.symbol}&side=${buy ? "BUY" : "SELL"}&type=LIMIT&timeInForce=GTC` +
        `&quantity=${QUANTITY}&price=${priceText(ticks, ready.priceScale)}&newOrderRespType=${respType}` +
        `&recvWindow=5000&timestamp=${Date.now()}`;
      const signature = createHmac("sha256", key.secretKey).update(text).digest("hex");
      return {
        ...request,
        headers: { "X-MBX-APIKEY": key.apiKey, "content-type": "application/x-www-form-urlencoded" },
        body: `${text}&signature=${signature}`,
      };
    },
    onResponse(status, body) {
      if (status !== 200) {
        let code = `HTTP ${status}`;
        try {
          code = `${status} ${(JSON.parse(body) as { code: number }).code}`;
        } catch {}
        errorCodes[code] = (errorCodes[code] ?? 0) + 1;
      } else if (respType === "RESULT") {
        const s = (JSON.parse(body) as { status: string }).status;
        statuses[s] = (statuses[s] ?? 0) + 1;
      }
    },
  };
}

// ------------------------------------------------------------------------------ WebSocket fan-out

/**
 * N subscribers (their own process) to `<symbol>@depth@100ms` and `<symbol>@trade` while ACK orders
 * flow at FANOUT_RATE; delivery lag = receive time − the event's own `E`.
 */
async function fanoutPhase(exchange: ChildProcess, ready: ReadyMessage) {
  progress(`fan-out: connecting ${SUBSCRIBERS} WebSocket subscribers (separate process)`);
  const streams = `${ready.symbol.toLowerCase()}@depth@100ms/${ready.symbol.toLowerCase()}@trade`;
  const subscribers = forkTs("ws-subscribers.ts", [
    `${ready.wsUrl}/stream?streams=${streams}`,
    String(SUBSCRIBERS),
  ]);
  try {
    await nextMessage(subscribers, "loaded", 60_000);
    const connectedReply = nextMessage<{ open: number; ms: number }>(subscribers, "connected", 180_000);
    subscribers.send({ type: "connect" });
    const connected = await connectedReply;
    progress(`fan-out: ${connected.open}/${SUBSCRIBERS} subscribers open after ${connected.ms} ms`);
    const wsBefore = await exchangeStats(exchange);
    const startedReply = nextMessage(subscribers, "started", 10_000);
    subscribers.send({ type: "start" });
    await startedReply;
    progress(`fan-out: ${FANOUT_RATE} ACK orders/s for ${SECONDS} s while the subscribers listen`);
    const fanoutCodes: Record<string, number> = {};
    const fanoutOrders = await load(exchange, ready.url, {
      name: "fan-out order flow",
      request: orderRequest(ready, "ACK", 17, fanoutCodes, {}),
      connections: FANOUT_CONNECTIONS,
      connectionRate: Math.max(1, Math.ceil(FANOUT_RATE / FANOUT_CONNECTIONS)),
      seconds: SECONDS,
      errorCodes: fanoutCodes,
      statuses: {},
    });
    await sleep(2_000); // the last trades and one more depth window reach everyone
    const reportReply = nextMessage<SubscriberReport>(subscribers, "report", 30_000);
    subscribers.send({ type: "report" });
    const report = await reportReply;
    const wsAfter = await exchangeStats(exchange);
    const fanout = {
      subscribers: SUBSCRIBERS,
      connected: connected.open,
      connectMs: connected.ms,
      stillOpen: report.open,
      silentSubscribers: report.silent,
      orderFlow: {
        ordersPerSec: fanoutOrders.perSecond,
        requested: FANOUT_RATE,
        non2xx: fanoutOrders.non2xx,
      },
      seconds: round(report.seconds, 2),
      depthMessages: report.depthMessages,
      tradeMessages: report.tradeMessages,
      messagesPerSec: Math.round((report.depthMessages + report.tradeMessages) / report.seconds),
      depthLagMs: report.depthLagMs,
      tradeLagMs: report.tradeLagMs,
      tradeLagFromEngineMs: report.tradeEngineLagMs,
      depthGaps: report.depthGaps,
      tradeGaps: report.tradeGaps,
      slowConsumerDisconnects: {
        gateway: wsAfter.slowConsumerDisconnects - wsBefore.slowConsumerDisconnects,
        seenByClients: report.slowConsumerCloses,
      },
      otherCloses: report.otherCloses,
      clientErrors: report.errors,
      exchangeCpuCores: fanoutOrders.exchangeCpuCores,
      subscriberProcessCpuCores: report.cpuCores,
      subscriberCpuMicrosPerMessage: report.cpuMicrosPerMessage,
      subscriberParse: { fallbacks: report.parseFallbacks, mismatches: report.parseMismatches },
      machineBusy: fanoutOrders.machineBusy,
    };
    progress(
      `fan-out: ${fanout.messagesPerSec} msg/s delivered, depth lag p99 ${fanout.depthLagMs.p99} ms, ` +
        `trade lag p99 ${fanout.tradeLagMs.p99} ms, gaps ${fanout.depthGaps}+${fanout.tradeGaps}, ` +
        `slow-consumer disconnects ${fanout.slowConsumerDisconnects.gateway}; orders ${fanout.orderFlow.ordersPerSec}/s of ` +
        `${FANOUT_RATE} requested; CPU: exchange ${fanout.exchangeCpuCores}, subscribers ${fanout.subscriberProcessCpuCores} cores ` +
        `(${fanout.subscriberCpuMicrosPerMessage} µs per message received)`,
    );
    return { fanout, fanoutOrders, streams };
  } finally {
    await stopChild(subscribers);
  }
}

// ------------------------------------------------------------------------------ run

const loadBefore = loadavg()[0]!;
progress(
  `${QUICK ? "quick" : "full"} run: ${SECONDS} s per phase, ${CONNECTIONS} connections, ` +
    `${SUBSCRIBERS} WebSocket subscribers at ${FANOUT_RATE} orders/s; load average ${loadBefore.toFixed(2)}`,
);
if (FANOUT_ONLY) {
  progress("fan-out only: starting the exchange process");
  const exchange = forkTs("exchange.ts", []);
  try {
    const ready = await nextMessage<ReadyMessage>(exchange, "ready", 120_000);
    const { fanout } = await fanoutPhase(exchange, ready);
    console.log(
      JSON.stringify(
        { fanout, loadAverage1m: { before: round(loadBefore, 2), after: round(loadavg()[0]!, 2) } },
        null,
        2,
      ),
    );
  } finally {
    await stopChild(exchange);
  }
  process.exit(0);
}
progress("starting the exchange process (PostgreSQL, event log, engine, wallet, gateway)");
const exchange = forkTs("exchange.ts", []);
try {
  const ready = await nextMessage<ReadyMessage>(exchange, "ready", 120_000);
  progress(`exchange ready at ${ready.url} with ${ready.keys.length} funded accounts`);

  // A signed order must be accepted before anything is measured.
  const probeCodes: Record<string, number> = {};
  const probe = orderRequest(ready, "RESULT", 1, probeCodes, {});
  const built = probe.setupRequest!({ method: "POST", path: "/api/v3/order" }, {});
  const probeResponse = await fetch(`${ready.url}${built.path}`, {
    method: "POST",
    headers: built.headers,
    body: built.body as string,
  });
  if (probeResponse.status !== 200) {
    throw new Error(`probe order refused: ${probeResponse.status} ${await probeResponse.text()}`);
  }

  const phases: PhaseResult[] = [];
  const orderPhase = (
    name: string,
    respType: "ACK" | "RESULT",
    seed: number,
    seconds: number,
    connections = CONNECTIONS,
  ) => {
    const errorCodes: Record<string, number> = {};
    const statuses: Record<string, number> = {};
    return load(exchange, ready.url, {
      name,
      request: orderRequest(ready, respType, seed, errorCodes, statuses),
      connections,
      seconds,
      errorCodes,
      statuses,
    });
  };

  progress("warm-up: 2 s of ACK orders (not reported)");
  await orderPhase("warm-up", "ACK", 7, 2);
  await drain(exchange);

  progress(`peer: GET /api/v3/ping for ${SECONDS} s (same server and load generator, no order path)`);
  const pingCodes: Record<string, number> = {};
  const ping = await load(exchange, ready.url, {
    name: "peer GET /api/v3/ping",
    request: {
      method: "GET",
      path: "/api/v3/ping",
      onResponse: (status) => {
        if (status !== 200) pingCodes[`HTTP ${status}`] = (pingCodes[`HTTP ${status}`] ?? 0) + 1;
      },
    },
    connections: CONNECTIONS,
    seconds: SECONDS,
    errorCodes: pingCodes,
    statuses: {},
  });

  progress(`signed POST /api/v3/order LIMIT GTC, newOrderRespType=ACK, for ${SECONDS} s`);
  phases.push(await orderPhase("REST order ACK", "ACK", 11, SECONDS));
  progress(`engine catching up: backlog ${await drain(exchange)} after the wait`);
  progress(`signed POST /api/v3/order LIMIT GTC, newOrderRespType=RESULT, for ${SECONDS} s`);
  phases.push(await orderPhase("REST order RESULT", "RESULT", 13, SECONDS));
  await drain(exchange);
  const floorSeconds = Math.max(2, Math.round(SECONDS / 2));
  progress(`latency floor: ACK orders over 1 connection for ${floorSeconds} s`);
  phases.push(await orderPhase("REST order ACK, 1 conn", "ACK", 19, floorSeconds, 1));
  await drain(exchange);

  let grpcPhase: PhaseResult | undefined;
  let grpcDeep: PhaseResult | undefined;
  let grpcNote: string;
  if (ready.marketMakerAddress) {
    const sessions = Math.min(8, ready.keys.length);
    /** One gRPC phase: `sessions` MarketMaker sessions, each keeping `window` NewOrderSingles in flight. */
    const grpcRun = async (name: string, window: number, seed: number): Promise<PhaseResult> => {
      progress(
        `${name}: ${sessions} MarketMaker sessions × ${window} NewOrderSingle in flight for ${SECONDS} s`,
      );
      const rnd = mulberry32(seed);
      const rejects: Record<string, number> = {};
      const phase = await measure(
        exchange,
        { name, connections: sessions * window, errorCodes: rejects, statuses: {} },
        async () => {
          const r = await grpcOrderLoad({
            address: ready.marketMakerAddress!,
            keys: ready.keys,
            symbol: ready.symbol,
            nextOrder: () => {
              const o = randomOrder(rnd);
              return {
                side: o.buy ? "BUY" : "SELL",
                price: priceText(o.ticks, ready.priceScale),
                quantity: QUANTITY,
              };
            },
            sessions,
            window,
            seconds: SECONDS,
            progress,
          });
          Object.assign(rejects, r.rejects);
          return {
            seconds: SECONDS,
            ok: r.ok,
            histogram: r.histogram,
            non2xx: Object.values(r.rejects).reduce((a, b) => a + b, 0),
            socketErrors: r.sessions - r.loggedOn,
            timeouts: r.unanswered,
          };
        },
      );
      await drain(exchange);
      return phase;
    };
    // As many orders in flight as the REST phases' connections; then a market maker's deep pipeline,
    // where the durable stages commit bigger batches (throughput capacity, at a higher latency).
    grpcPhase = await grpcRun("gRPC stream orders", Math.max(1, Math.round(CONNECTIONS / sessions)), 23);
    if (GRPC_DEEP_WINDOW > 0)
      grpcDeep = await grpcRun("gRPC stream orders, deep pipeline", GRPC_DEEP_WINDOW, 29);
    grpcNote = "measured";
  } else {
    grpcNote = existsSync(join(here, "../src/market-maker"))
      ? "not measured: MarketMaker stream not wired into the gateway yet"
      : "not measured: MarketMaker stream not built yet";
    progress(`gRPC stream: ${grpcNote}`);
  }

  const { fanout, fanoutOrders, streams } = await fanoutPhase(exchange, ready);

  // ---------------------------------------------------------------------------- report
  const [ack, result, floor] = phases as [PhaseResult, PhaseResult, PhaseResult];
  const restMet = (p: PhaseResult) =>
    p.perSecond >= TARGETS.restOrdersPerSec &&
    p.latencyMs.p99 <= TARGETS.restP99Ms &&
    p.non2xx + p.socketErrors === 0;
  const fanoutMet =
    fanout.depthLagMs.p99 <= TARGETS.fanoutP99Ms &&
    fanout.tradeLagMs.p99 <= TARGETS.fanoutP99Ms &&
    fanout.depthGaps + fanout.tradeGaps === 0 &&
    fanout.slowConsumerDisconnects.gateway === 0 &&
    fanout.silentSubscribers === 0;
  const grpcMet = (p: PhaseResult) =>
    p.perSecond >= TARGETS.grpcOrdersPerSec &&
    p.latencyMs.p99 <= TARGETS.grpcP99Ms &&
    p.non2xx + p.socketErrors + p.timeouts === 0;
  const errors = (p: PhaseResult) => p.non2xx + p.socketErrors + p.timeouts;
  const row = (p: PhaseResult, target: string, verdict: string, vsPeer = true) => ({
    "per s": p.perSecond,
    "p50 ms": p.latencyMs.p50,
    "p99 ms": p.latencyMs.p99,
    "p99.9 ms": p.latencyMs.p999,
    errors: errors(p),
    "exchange CPU": p.exchangeCpuCores,
    "pg CPU": p.postgresCpuCores,
    "machine busy": p.machineBusy,
    "CPU µs/op (exch+pg)": p.cpuMicrosPerOp
      ? `${p.cpuMicrosPerOp.exchange ?? "?"}+${p.cpuMicrosPerOp.postgres ?? "?"}`
      : "",
    "vs peer": vsPeer ? round(p.perSecond / ping.perSecond, 3) : "-",
    target,
    verdict,
  });
  const table = {
    "peer GET /api/v3/ping": row(ping, "ceiling", "-"),
    "REST order ACK": row(ack, "≥20k/s, p99≤10ms", restMet(ack) ? "met" : "missed"),
    "REST order RESULT": row(result, "≥20k/s, p99≤10ms", restMet(result) ? "met" : "missed"),
    "REST order ACK, 1 conn": row(floor, "latency floor", "-"),
    ...(grpcDeep
      ? {
          [`gRPC stream, ${grpcDeep.connections} in flight`]: row(
            grpcDeep,
            "≥50k/s, p99≤2ms",
            grpcMet(grpcDeep) ? "met" : "missed",
            false,
          ),
        }
      : {}),
    "gRPC stream orders": grpcPhase
      ? row(grpcPhase, "≥50k/s, p99≤2ms", grpcMet(grpcPhase) ? "met" : "missed", false)
      : { "per s": grpcNote, target: "≥50k/s, p99≤2ms", verdict: "-" },
    [`WS depth@100ms ×${fanout.connected} (E→recv)`]: {
      "per s": Math.round(fanout.depthMessages / fanout.seconds),
      "p50 ms": fanout.depthLagMs.p50,
      "p99 ms": fanout.depthLagMs.p99,
      "p99.9 ms": fanout.depthLagMs.p999,
      errors: `gaps ${fanout.depthGaps}`,
      target: "p99≤50ms, no gaps",
      verdict: fanout.depthLagMs.p99 <= TARGETS.fanoutP99Ms && fanout.depthGaps === 0 ? "met" : "missed",
    },
    [`WS trade ×${fanout.connected} (E→recv)`]: {
      "per s": Math.round(fanout.tradeMessages / fanout.seconds),
      "p50 ms": fanout.tradeLagMs.p50,
      "p99 ms": fanout.tradeLagMs.p99,
      "p99.9 ms": fanout.tradeLagMs.p999,
      errors: `gaps ${fanout.tradeGaps}`,
      target: "p99≤50ms, no gaps",
      verdict: fanout.tradeLagMs.p99 <= TARGETS.fanoutP99Ms && fanout.tradeGaps === 0 ? "met" : "missed",
    },
    "WS trade (engine T→recv)": {
      "per s": Math.round(fanout.tradeMessages / fanout.seconds),
      "p50 ms": fanout.tradeLagFromEngineMs.p50,
      "p99 ms": fanout.tradeLagFromEngineMs.p99,
      "p99.9 ms": fanout.tradeLagFromEngineMs.p999,
      target: "info",
      verdict: "-",
    },
    "WS slow-consumer disconnects": {
      "per s": fanout.slowConsumerDisconnects.gateway,
      errors: `silent ${fanout.silentSubscribers}, other closes ${fanout.otherCloses}`,
      "exchange CPU": fanout.exchangeCpuCores,
      "machine busy": fanout.machineBusy,
      target: "0",
      verdict: fanout.slowConsumerDisconnects.gateway === 0 ? "met" : "missed",
    },
  };
  console.table(table);
  for (const p of [
    ...phases,
    ...(grpcPhase ? [grpcPhase] : []),
    ...(grpcDeep ? [grpcDeep] : []),
    fanoutOrders,
  ]) {
    progress(
      `${p.name}, server side (per order; the shared pg pool had ${p.poolWaiting.mean} queries waiting on average, ${p.poolWaiting.max} at most):`,
    );
    console.table(
      Object.fromEntries(
        Object.entries(p.stages).map(([stage, t]) => [
          stage,
          {
            "per s": Math.round(t.count / p.seconds),
            "mean ms": t.meanMs,
            "p50 ms": t.p50Ms,
            "p99 ms": t.p99Ms,
          },
        ]),
      ),
    );
    if (p.profile) {
      progress(`${p.name}, exchange CPU profile (self time by package): ${p.profile.file}`);
      console.table(Object.fromEntries(p.profile.top.map((t) => [t.where, { "% of samples": t.percent }])));
    }
    if (Object.keys(p.errorCodes).length > 0)
      progress(`${p.name} errors by HTTP status and code: ${JSON.stringify(p.errorCodes)}`);
    if (Object.keys(p.statuses).length > 0)
      progress(`${p.name} order statuses: ${JSON.stringify(p.statuses)}`);
  }

  const output = {
    benchmark: "order gateway, one-process mode (engine + wallet + gateway in one child process)",
    date: new Date().toISOString(),
    machine: {
      cpu: cpus()[0]?.model,
      cores: cpus().length,
      memoryBytes: totalmem(),
      node: process.version,
      loadAverage1m: { before: round(loadBefore, 2), after: round(loadavg()[0]!, 2) },
    },
    setup: {
      quick: QUICK,
      secondsPerPhase: SECONDS,
      connections: CONNECTIONS,
      loadGenerator:
        "autocannon 9 (in the parent process), HTTP/1.1 keep-alive, pipelining 1, fresh HMAC per request",
      exchange:
        "forked child: embedded PostgreSQL (fsync=on), embedded event log durable in PostgreSQL, engine shard 0, wallet, gateway",
      benchOnlyConfig: "REQUEST_WEIGHT per IP and ORDERS per account raised (one loopback IP, 64 accounts)",
      accounts: ready.keys.length,
      order: `LIMIT GTC ${QUANTITY} ${ready.symbol}, price mid ±10 ticks, BUY/SELL at random`,
      subscribers: `${SUBSCRIBERS} × /stream?streams=${streams}, separate process`,
      profiles: PROFILE ? profDir : undefined,
    },
    targets: TARGETS,
    peer: ping,
    rest: {
      ack,
      result,
      oneConnection: floor,
      ratioToPeer: {
        ack: round(ack.perSecond / ping.perSecond, 4),
        result: round(result.perSecond / ping.perSecond, 4),
      },
      verdicts: { ack: restMet(ack), result: restMet(result) },
    },
    grpcStream: grpcPhase ? { ...grpcPhase, met: grpcMet(grpcPhase) } : grpcNote,
    grpcStreamDeep: grpcDeep ? { ...grpcDeep, met: grpcMet(grpcDeep) } : undefined,
    fanout: { ...fanout, met: fanoutMet },
  };
  mkdirSync(dirname(resultsFile), { recursive: true });
  writeFileSync(resultsFile, `${JSON.stringify(output, null, 2)}\n`);
  progress(`wrote ${resultsFile}`);
} finally {
  progress("stopping the exchange");
  await stopChild(exchange);
  if (PROFILE) progress(`exchange CPU profiles (one per phase) in ${profDir}`);
}
