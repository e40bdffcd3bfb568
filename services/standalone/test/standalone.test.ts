/**
 * `npm start` as a user runs it: the real process on a fresh data directory — it serves the demo
 * markets with live quotes, shuts down cleanly on SIGTERM, and comes back with the same state.
 */
import { spawnSync } from "node:child_process";
import { createHmac } from "node:crypto";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BookSnapshot, type ListMarketsResponse, MatchingEngineClient } from "@excraft/proto";
import { freePortBlock } from "@excraft/testkit";
import { credentials, type ServiceError } from "@grpc/grpc-js";
import { Contract, JsonRpcProvider, parseUnits, Wallet } from "ethers";
import { afterAll, describe, expect, it } from "vitest";
import { killAllExchanges, serviceDir, startExchange, units, waitReady } from "./exchange-process.ts";

const DEMO_KEY = "k".repeat(32) + "1".repeat(32);
const DEMO_SECRET = "s".repeat(32) + "2".repeat(32);
/** Hardhat dev account #1 (public test mnemonic): the demo trader's linked address. */
const DEPOSITOR_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";

function unary<Res>(
  send: (callback: (error: ServiceError | null, response: Res) => void) => unknown,
): Promise<Res> {
  return new Promise((resolve, reject) =>
    send((error, response) => (error ? reject(error) : resolve(response))),
  );
}

async function jsonRpc<T>(url: string, method: string, params: unknown[] = []): Promise<T> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  const body = (await response.json()) as { result?: T; error?: { message: string } };
  if (body.error) throw new Error(`${method}: ${body.error.message}`);
  return body.result as T;
}

async function engineOffset(metricsPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  return Number(/^engine_input_offset\{[^}]*\} (\d+)/m.exec(text)?.[1] ?? -1);
}

describe("npm start (standalone exchange)", () => {
  const dirs: string[] = [];
  afterAll(async () => {
    await killAllExchanges();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it("prints usage for --help and rejects a bad option", () => {
    const help = spawnSync(process.execPath, ["--import", "tsx", "src/main.ts", "--help"], {
      cwd: serviceDir,
      encoding: "utf8",
    });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain("Usage: npm start");
    expect(help.stdout).toContain("local EVM JSON-RPC = n+5");
    expect(help.stdout).toContain("--no-chain");
    expect(help.stdout).toContain("--block-time <s>");
    const bad = spawnSync(process.execPath, ["--import", "tsx", "src/main.ts", "--base-port", "abc"], {
      cwd: serviceDir,
      encoding: "utf8",
    });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--base-port must be an integer 1024-65000 (got "abc")');
    const badBlockTime = spawnSync(
      process.execPath,
      ["--import", "tsx", "src/main.ts", "--block-time", "1.5"],
      { cwd: serviceDir, encoding: "utf8" },
    );
    expect(badBlockTime.status).toBe(2);
  });

  it("runs the demo markets with live quotes, stops cleanly and keeps its state across a restart", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "excraft-standalone-"));
    dirs.push(dataDir);
    const basePort = await freePortBlock(10);
    const grpcAddress = `127.0.0.1:${basePort}`;

    const demoKey = { EXCRAFT_DEMO_API_KEY: DEMO_KEY, EXCRAFT_DEMO_API_SECRET: DEMO_SECRET };
    const first = startExchange(dataDir, basePort, { env: demoKey });
    await waitReady(first);
    // A second exchange on the same data directory is refused while the first runs.
    const intruder = startExchange(dataDir, basePort + 100, { env: demoKey });
    const [intruderCode] = await once(intruder.child, "exit");
    expect(intruderCode, intruder.output()).toBe(1);
    expect(intruder.output()).toContain(`is running on ${dataDir}`);
    expect(first.output()).toContain(`gRPC     127.0.0.1:${basePort}`);
    // The Binance-compatible REST API answers with the demo markets and the bot's quotes.
    const rest = `http://127.0.0.1:${basePort + 2}/api/v3`;
    const info = (await (await fetch(`${rest}/exchangeInfo`)).json()) as { symbols: { symbol: string }[] };
    expect(info.symbols.map((s) => s.symbol).sort()).toEqual(["BTCUSDT", "ETHUSDT", "EXTUSDT"]);
    const unknown = await fetch(`${rest}/depth?symbol=NOPE`);
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toEqual({ code: -1121, msg: "Invalid symbol." });

    // The demo trader (key from the environment) buys from the bot through the signed API; the
    // wallet settles it: the trade shows in myTrades and the balances move by exact amounts.
    const signed = async (method: string, path: string, params: Record<string, string>) => {
      const query = new URLSearchParams({ ...params, timestamp: String(Date.now()) }).toString();
      const signature = createHmac("sha256", DEMO_SECRET).update(query).digest("hex");
      const response = await fetch(`${rest}${path}?${query}&signature=${signature}`, {
        method,
        headers: { "X-MBX-APIKEY": DEMO_KEY },
      });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    type Account = { balances: { asset: string; free: string; locked: string }[] };
    const before = (await signed("GET", "/account", {})).body as unknown as Account;
    const usdtBefore = before.balances.find((b) => b.asset === "USDT")!;
    expect(usdtBefore.free).toBe("100000.00000000");
    // Wait for the bot's first quotes, then take the best ask.
    let bestAsk: { asks?: string[][] } = {};
    for (let i = 0; i < 100 && !bestAsk.asks?.length; i++) {
      if (i > 0) await new Promise((resolve) => setTimeout(resolve, 200));
      bestAsk = (await (await fetch(`${rest}/depth?symbol=BTCUSDT&limit=1`)).json()) as typeof bestAsk;
    }
    expect(bestAsk.asks?.length, JSON.stringify(bestAsk)).toBe(1);
    const order = await signed("POST", "/order", {
      symbol: "BTCUSDT",
      side: "BUY",
      type: "LIMIT",
      timeInForce: "IOC",
      price: bestAsk.asks![0]![0]!,
      quantity: "0.0010",
      newOrderRespType: "FULL",
    });
    expect(order.status, JSON.stringify(order.body)).toBe(200);
    expect(order.body.status).toBe("FILLED");
    const trades = await signed("GET", "/myTrades", { symbol: "BTCUSDT" });
    expect(
      (trades.body as unknown as { qty: string; isBuyer: boolean }[]).some(
        (t) => t.isBuyer && t.qty === "0.00100000",
      ),
    ).toBe(true);
    const afterTrade = (await signed("GET", "/account", {})).body as unknown as Account;
    expect(afterTrade.balances.find((b) => b.asset === "BTC")!.free).not.toBe(
      before.balances.find((b) => b.asset === "BTC")!.free,
    );
    const badSignature = await fetch(`${rest}/account?timestamp=${Date.now()}&signature=${"0".repeat(64)}`, {
      headers: { "X-MBX-APIKEY": DEMO_KEY },
    });
    expect(await badSignature.json()).toEqual({
      code: -1022,
      msg: "Signature for this request is not valid.",
    });
    const client = new MatchingEngineClient(grpcAddress, credentials.createInsecure());
    let book: BookSnapshot | undefined;
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      book = await unary<BookSnapshot>((cb) =>
        client.getOrderBook({ symbol: "BTCUSDT", depth: 5 }, cb),
      ).catch(() => undefined);
      if (book && book.bids.length === 2 && book.asks.length === 2) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(book?.bids).toHaveLength(2); // the bot quotes two levels a side
    expect(book!.bids[0]!.price).toBeLessThan(book!.asks[0]!.price);
    const markets = await unary<ListMarketsResponse>((cb) => client.listMarkets({}, cb));
    expect(markets.markets.map((m) => m.symbol).sort()).toEqual(["BTCUSDT", "ETHUSDT", "EXTUSDT"]);
    client.close();
    const offsetBefore = await engineOffset(basePort + 1);
    expect(offsetBefore).toBeGreaterThan(3);

    // The local EVM answers on base+5 with the contracts deployed; a deposit sent from the demo
    // trader's linked address to the hot wallet is credited once it has its confirmations.
    const rpcUrl = `http://127.0.0.1:${basePort + 5}`;
    expect(first.output()).toContain(`chain    ${rpcUrl}`);
    expect(await jsonRpc<string>(rpcUrl, "eth_chainId")).toBe("0x7a69");
    const extAddress = /contracts EXT (0x[0-9a-fA-F]{40})/.exec(first.output())?.[1];
    const hotWallet = /hot wallet (0x[0-9a-fA-F]{40})/.exec(first.output())?.[1];
    expect(extAddress && hotWallet, first.output()).toBeTruthy();
    const extCode = await jsonRpc<string>(rpcUrl, "eth_getCode", [extAddress, "latest"]);
    expect(extCode.length).toBeGreaterThan(1_000);
    const provider = new JsonRpcProvider(rpcUrl, 31337, {
      staticNetwork: true,
      cacheTimeout: -1,
    });
    const depositor = new Wallet(DEPOSITOR_KEY, provider);
    expect(first.output()).toContain(`linked ETH address ${depositor.address}`);
    const ext = new Contract(extAddress!, ["function transfer(address, uint256) returns (bool)"], depositor);
    await depositor.sendTransaction({ to: hotWallet, value: parseUnits("1.5", 18) });
    await ext.getFunction("transfer")(hotWallet, parseUnits("250", 18));
    provider.destroy();
    const free = (account: Account, asset: string) =>
      units(account.balances.find((b) => b.asset === asset)?.free ?? "0");
    let afterDeposit = (await signed("GET", "/account", {})).body as unknown as Account;
    const credited = () =>
      free(afterDeposit, "ETH") === free(afterTrade, "ETH") + 150_000_000n &&
      free(afterDeposit, "EXT") === free(afterTrade, "EXT") + 25_000_000_000n;
    for (let i = 0; i < 150 && !credited(); i++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      afterDeposit = (await signed("GET", "/account", {})).body as unknown as Account;
    }
    expect(credited(), JSON.stringify(afterDeposit.balances)).toBe(true);
    type Block = { number: string; hash: string };
    const headBefore = await jsonRpc<Block>(rpcUrl, "eth_getBlockByNumber", ["latest", false]);

    first.child.kill("SIGTERM");
    const [code] = await once(first.child, "exit");
    expect(code, first.output()).toBe(0);

    const second = startExchange(dataDir, basePort, { env: demoKey });
    try {
      await waitReady(second);
      // Balances and trade history survive the restart.
      const restarted = (await signed("GET", "/account", {})).body as unknown as Account;
      expect(restarted.balances).toEqual(afterDeposit.balances);
      const tradesAfter = await signed("GET", "/myTrades", { symbol: "BTCUSDT" });
      expect(tradesAfter.body).toEqual(trades.body);
      // The engine resumes from its snapshot: the offset continues, no market is added twice.
      expect(await engineOffset(basePort + 1)).toBeGreaterThanOrEqual(offsetBefore);
      const again = new MatchingEngineClient(grpcAddress, credentials.createInsecure());
      const after = await unary<ListMarketsResponse>((cb) => again.listMarkets({}, cb));
      again.close();
      expect(after.markets).toHaveLength(3);
      // The chain came back from its journal: the same blocks (plus newer ones), the same contracts.
      const sameBlock = await jsonRpc<Block>(rpcUrl, "eth_getBlockByNumber", [headBefore.number, false]);
      expect(sameBlock.hash).toBe(headBefore.hash);
      expect(await jsonRpc<string>(rpcUrl, "eth_getCode", [extAddress, "latest"])).toBe(extCode);
      expect(second.output()).toContain(`contracts EXT ${extAddress}`);
    } finally {
      second.child.kill("SIGTERM");
      const [secondCode] = await once(second.child, "exit");
      expect(secondCode).toBe(0);
    }
  }, 120_000);
});
