/**
 * The standalone exchange (`npm start`'s code) as a child process, for end-to-end tests: started on
 * a data directory and a block of ports, awaited until it serves, and killed — with everything it
 * started — whatever happens in the test.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { once } from "node:events";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const serviceDir = join(dirname(fileURLToPath(import.meta.url)), "..");

export interface ExchangeProcess {
  child: ChildProcess;
  /** Everything the process printed so far (stdout and stderr). */
  output(): string;
  basePort: number;
  /** Binance-compatible REST API, e.g. http://127.0.0.1:7402/api/v3 */
  restUrl: string;
  /** Base URL of the HTTP server (REST, WebSocket, the native /v1 routes). */
  httpUrl: string;
  /** MatchingEngine gRPC address (base port). */
  engineAddress: string;
  /** MarketMaker/Session gRPC address (base port + 4). */
  marketMakerAddress: string;
  /** Ops server: /metrics, /healthz, /readyz (base port + 1). */
  opsUrl: string;
}

export interface StartOptions {
  /** More command-line options, e.g. ["--no-chain"]. */
  args?: string[];
  /** More environment (the demo trader's key, GATEWAY_ADMIN_TOKEN…). */
  env?: Record<string, string>;
}

/** Every exchange process started here: `killAllExchanges` ends them (and what they started). */
const started: ChildProcess[] = [];

/**
 * Starts the exchange on `dataDir` with its ports from `basePort` on, on embedded defaults (no
 * DATABASE_URL / KAFKA_BROKERS from the caller's environment). The process leads its own process
 * group, so the embedded PostgreSQL it starts can be ended with it — also after the exchange itself
 * was killed and left its PostgreSQL running, as a crash does.
 */
export function startExchange(
  dataDir: string,
  basePort: number,
  options: StartOptions = {},
): ExchangeProcess {
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      "src/main.ts",
      "--data-dir",
      dataDir,
      "--base-port",
      String(basePort),
      ...(options.args ?? []),
    ],
    {
      cwd: serviceDir,
      env: { ...process.env, LOG_LEVEL: "warn", DATABASE_URL: "", KAFKA_BROKERS: "", ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    },
  );
  started.push(child);
  let text = "";
  child.stdout!.on("data", (chunk) => {
    text += chunk;
  });
  child.stderr!.on("data", (chunk) => {
    text += chunk;
  });
  const host = "127.0.0.1";
  return {
    child,
    output: () => text,
    basePort,
    httpUrl: `http://${host}:${basePort + 2}`,
    restUrl: `http://${host}:${basePort + 2}/api/v3`,
    engineAddress: `${host}:${basePort}`,
    marketMakerAddress: `${host}:${basePort + 4}`,
    opsUrl: `http://${host}:${basePort + 1}`,
  };
}

/** Settles once the exchange is ready (/readyz answers 200 and the banner, printed last, is out). */
export async function waitReady(exchange: ExchangeProcess, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exchange.child.exitCode !== null || exchange.child.signalCode !== null) {
      throw new Error(
        `exchange exited (${exchange.child.exitCode ?? exchange.child.signalCode}) before it was ready:\n${exchange.output()}`,
      );
    }
    const ok = await fetch(`${exchange.opsUrl}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok && exchange.output().includes("ExCraft is running")) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`exchange not ready after ${timeoutMs} ms:\n${exchange.output()}`);
}

/**
 * What a crash kills (SIGKILL: no shutdown code runs). "process": the exchange's Node process alone,
 * as an out-of-memory kill does; the embedded PostgreSQL it started is left running. "process group":
 * the PostgreSQL too, as a power loss does (it recovers from its WAL at the next start).
 */
export type CrashScope = "process" | "process group";

export async function crash(exchange: ExchangeProcess, scope: CrashScope): Promise<void> {
  const exited = once(exchange.child, "exit");
  const group = exchange.child.pid!;
  if (scope === "process") exchange.child.kill("SIGKILL");
  else {
    process.kill(-group, "SIGKILL");
    // Until the last one is reaped PostgreSQL's lock file names a live process: a restart would refuse it.
    await until("every process of the crashed exchange gone", () => !groupAlive(group), 60_000, 50);
  }
  await exited;
}

function groupAlive(group: number): boolean {
  try {
    process.kill(-group, 0);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ESRCH") return false;
    throw error;
  }
}

/** Kills every exchange started here and whatever each left running (its process group). */
export async function killAllExchanges(): Promise<void> {
  for (const child of started.splice(0)) {
    const exited =
      child.exitCode === null && child.signalCode === null ? once(child, "exit") : Promise.resolve();
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error; // ESRCH: nothing left
    }
    await exited;
  }
}

/**
 * Polls `check` until it returns a value other than undefined/false; a timeout names `what`
 * (a function: evaluated then, so it can describe the last state seen) and the last error thrown.
 */
export async function until<T>(
  what: string | (() => string),
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 60_000,
  intervalMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      const described = typeof what === "string" ? what : what();
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${described} (last: ${String(last)})`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** "12.34000000" → 1234000000n (the REST API prints 8 decimals). */
export function units(text: string): bigint {
  const [whole, fraction = ""] = text.split(".");
  return BigInt(whole! + fraction.padEnd(8, "0").slice(0, 8));
}

export interface SignedResponse {
  status: number;
  body: unknown;
}

export type SignedClient = (
  method: string,
  path: string,
  params?: Record<string, string>,
) => Promise<SignedResponse>;

/** A client of the signed Binance v3 endpoints (HMAC-SHA256 of the query with the API secret). */
export function signedRest(restUrl: string, apiKey: string, secret: string): SignedClient {
  return async (
    method: string,
    path: string,
    params: Record<string, string> = {},
  ): Promise<SignedResponse> => {
    const query = new URLSearchParams({ ...params, timestamp: String(Date.now()) }).toString();
    const signature = createHmac("sha256", secret).update(query).digest("hex");
    const response = await fetch(`${restUrl}${path}?${query}&signature=${signature}`, {
      method,
      headers: { "X-MBX-APIKEY": apiKey },
    });
    return { status: response.status, body: await response.json() };
  };
}

export interface Balance {
  asset: string;
  free: string;
  locked: string;
}
