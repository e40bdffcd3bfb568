/**
 * `npm start` as a user runs it: the real process on a fresh data directory — it serves the demo
 * markets with live quotes, shuts down cleanly on SIGTERM, and comes back with the same state.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type BookSnapshot, type ListMarketsResponse, MatchingEngineClient } from "@excraft/proto";
import { freePort } from "@excraft/testkit";
import { credentials, type ServiceError } from "@grpc/grpc-js";
import { afterAll, describe, expect, it } from "vitest";

const serviceDir = join(dirname(fileURLToPath(import.meta.url)), "..");

function startExchange(dataDir: string, basePort: number): { child: ChildProcess; output: () => string } {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "src/main.ts", "--data-dir", dataDir, "--base-port", String(basePort)],
    {
      cwd: serviceDir,
      env: { ...process.env, LOG_LEVEL: "warn", DATABASE_URL: "", KAFKA_BROKERS: "" },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let text = "";
  child.stdout!.on("data", (chunk) => {
    text += chunk;
  });
  child.stderr!.on("data", (chunk) => {
    text += chunk;
  });
  return { child, output: () => text };
}

async function waitReady(metricsPort: number, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`exchange exited ${child.exitCode}:\n${output()}`);
    const ok = await fetch(`http://127.0.0.1:${metricsPort}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    // The banner is printed last, once every part is up.
    if (ok && output().includes("ExCraft is running")) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`exchange not ready:\n${output()}`);
}

function unary<Res>(
  send: (callback: (error: ServiceError | null, response: Res) => void) => unknown,
): Promise<Res> {
  return new Promise((resolve, reject) =>
    send((error, response) => (error ? reject(error) : resolve(response))),
  );
}

async function engineOffset(metricsPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  return Number(/^engine_input_offset\{[^}]*\} (\d+)/m.exec(text)?.[1] ?? -1);
}

describe("npm start (standalone exchange)", () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it("prints usage for --help and rejects a bad option", () => {
    const help = spawnSync(process.execPath, ["--import", "tsx", "src/main.ts", "--help"], {
      cwd: serviceDir,
      encoding: "utf8",
    });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain("Usage: npm start");
    const bad = spawnSync(process.execPath, ["--import", "tsx", "src/main.ts", "--base-port", "abc"], {
      cwd: serviceDir,
      encoding: "utf8",
    });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--base-port must be an integer 1024-65000 (got "abc")');
  });

  it("runs the demo markets with live quotes, stops cleanly and keeps its state across a restart", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "excraft-standalone-"));
    dirs.push(dataDir);
    const basePort = await freePort();
    const grpcAddress = `127.0.0.1:${basePort}`;

    const first = startExchange(dataDir, basePort);
    await waitReady(basePort + 1, first.child, first.output);
    expect(first.output()).toContain(`gRPC     127.0.0.1:${basePort}`);
    // The Binance-compatible REST API answers with the demo markets and the bot's quotes.
    const rest = `http://127.0.0.1:${basePort + 2}/api/v3`;
    const info = (await (await fetch(`${rest}/exchangeInfo`)).json()) as { symbols: { symbol: string }[] };
    expect(info.symbols.map((s) => s.symbol).sort()).toEqual(["BTCUSDT", "ETHUSDT", "EXTUSDT"]);
    const unknown = await fetch(`${rest}/depth?symbol=NOPE`);
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toEqual({ code: -1121, msg: "Invalid symbol." });
    const client = new MatchingEngineClient(grpcAddress, credentials.createInsecure());
    let book: BookSnapshot | undefined;
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      book = await unary<BookSnapshot>((cb) =>
        client.getOrderBook({ symbol: "BTCUSDT", depth: 5 }, cb),
      ).catch(() => undefined);
      if (book && book.bids.length === 5 && book.asks.length === 5) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(book?.bids).toHaveLength(5);
    expect(book!.bids[0]!.price).toBeLessThan(book!.asks[0]!.price);
    const markets = await unary<ListMarketsResponse>((cb) => client.listMarkets({}, cb));
    expect(markets.markets.map((m) => m.symbol).sort()).toEqual(["BTCUSDT", "ETHUSDT", "EXTUSDT"]);
    client.close();
    const offsetBefore = await engineOffset(basePort + 1);
    expect(offsetBefore).toBeGreaterThan(3);

    first.child.kill("SIGTERM");
    const [code] = await once(first.child, "exit");
    expect(code, first.output()).toBe(0);

    const second = startExchange(dataDir, basePort);
    try {
      await waitReady(basePort + 1, second.child, second.output);
      // The engine resumes from its snapshot: the offset continues, no market is added twice.
      expect(await engineOffset(basePort + 1)).toBeGreaterThanOrEqual(offsetBefore);
      const again = new MatchingEngineClient(grpcAddress, credentials.createInsecure());
      const after = await unary<ListMarketsResponse>((cb) => again.listMarkets({}, cb));
      again.close();
      expect(after.markets).toHaveLength(3);
    } finally {
      second.child.kill("SIGTERM");
      const [secondCode] = await once(second.child, "exit");
      expect(secondCode).toBe(0);
    }
  }, 120_000);
});
