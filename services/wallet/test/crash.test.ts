import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileDurability, openEmbeddedEventLog } from "@excraft/eventlog";
import { ExecutionEvent, OrderStatus, Side } from "@excraft/proto";
import { startPostgres, type TestPostgres } from "@excraft/testkit";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startExecutionsConsumer } from "../src/consumer";
import { Ledger } from "../src/ledger";
import { migrate } from "../src/schema";
import { FEE_ACCOUNT } from "../src/state";
import { ASSETS, BTCUSDT, header, order } from "./fixtures";

/**
 * Crash test: the real wallet process (src/main.ts) settles a long executions.v1 stream from a
 * file-backed embedded EventLog and is SIGKILLed several times mid-stream. After a final restart,
 * every trade must be settled exactly once (balances equal an independent oracle) and conservation
 * must hold.
 */
const N = 6_000;
const ACCOUNTS = Array.from({ length: 12 }, (_, i) => `trader-${i}`);
const USDT0 = 10n ** 13n;
const BTC0 = 10n ** 11n;

let pgServer: TestPostgres;
let url: string;
let pool: pg.Pool;
let logDir: string;
const children = new Set<ChildProcess>();

beforeAll(async () => {
  pgServer = await startPostgres();
  url = await pgServer.createDatabase("wallet_crash");
  pool = new pg.Pool({ connectionString: url, max: 4 });
  pool.on("error", () => {});
  logDir = await mkdtemp(join(tmpdir(), "wallet-crash-log-"));
});
afterAll(async () => {
  for (const c of children) c.kill("SIGKILL");
  await pool?.end();
  await pgServer?.stop();
  if (logDir) await rm(logDir, { recursive: true, force: true });
});

function rng(seed: number) {
  let s = seed >>> 0;
  return (n: number) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % n;
  };
}

function startWallet(): ChildProcess {
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    cwd: join(import.meta.dirname, ".."),
    env: {
      ...process.env,
      DATABASE_URL: url,
      EVENTLOG: "embedded-file",
      EVENTLOG_DIR: logDir,
      GRPC_HOST: "127.0.0.1",
      GRPC_PORT: "0",
      METRICS_HOST: "127.0.0.1",
      METRICS_PORT: "0",
      WALLET_WEBHOOK_PORT: "0",
      KYC_WEBHOOK_SECRET: "crash-test",
      LOG_LEVEL: "warn",
      WALLET_ASSETS: JSON.stringify(ASSETS),
      WALLET_MARKETS: JSON.stringify([BTCUSDT]),
    },
    stdio: ["ignore", "ignore", "pipe"],
  });
  child.stderr?.on("data", (d: Buffer) => process.stderr.write(`[wallet child] ${d}`));
  children.add(child);
  child.on("exit", () => children.delete(child));
  return child;
}

async function progress(): Promise<bigint> {
  const r = await pool.query(
    "select sequence from consumer_progress where stream = 'executions.v1' and shard = 0",
  );
  return BigInt(r.rows[0]?.sequence ?? 0);
}

const exited = (c: ChildProcess) =>
  new Promise<number | null>((resolve) => {
    if (c.exitCode !== null || c.signalCode !== null) resolve(c.exitCode);
    else c.once("exit", (code) => resolve(code));
  });

describe("crash during settlement", () => {
  it("settles every trade exactly once across SIGKILLs, and conservation holds", async () => {
    // --- setup: funds, reservations, and the trade stream in the event log
    await migrate(pool);
    const ledger = await Ledger.open(pool);
    for (const a of ASSETS) await ledger.registerAsset(a);
    await ledger.configureMarket(BTCUSDT);
    for (const a of ACCOUNTS) {
      await ledger.deposit(`seed-usdt-${a}`, a, "USDT", USDT0);
      await ledger.deposit(`seed-btc-${a}`, a, "BTC", BTC0);
    }
    const expected = new Map<string, bigint>();
    const add = (account: string, asset: string, v: bigint) =>
      expected.set(`${account}/${asset}`, (expected.get(`${account}/${asset}`) ?? 0n) + v);
    for (const a of ACCOUNTS) {
      add(a, "USDT", USDT0);
      add(a, "BTC", BTC0);
    }
    const rand = rng(42);
    const events: ExecutionEvent[] = [
      {
        header: header(1n),
        symbol: "BTCUSDT",
        event: {
          $case: "marketChanged",
          value: {
            spec: {
              symbol: "BTCUSDT",
              baseAsset: "BTC",
              quoteAsset: "USDT",
              priceScale: 2,
              quantityScale: 6,
              tickSize: 1n,
              stepSize: 1n,
              minQty: 1n,
              maxQty: 10n ** 12n,
              minPrice: 1n,
              maxPrice: 10n ** 12n,
              minNotional: 0n,
              status: 1,
              defaultStp: 1,
              shard: 0,
            },
          },
        },
      },
    ];
    const reservations: Promise<unknown>[] = [];
    const trade = (i: number, seq: bigint, epoch: bigint, apply: boolean) => {
      const buyer = ACCOUNTS[rand(ACCOUNTS.length)]!;
      let seller = ACCOUNTS[rand(ACCOUNTS.length)]!;
      if (seller === buyer) seller = ACCOUNTS[(ACCOUNTS.indexOf(buyer) + 1) % ACCOUNTS.length]!;
      const price = BigInt(2_000_000 + rand(2_000_000));
      const qty = BigInt(1 + rand(10_000));
      const buyerIsMaker = i % 2 === 0;
      const raw = price * qty;
      const pay = (raw + 99n) / 100n;
      const recv = raw / 100n;
      const base = qty * 100n;
      const buyerFee = (base * BigInt(buyerIsMaker ? BTCUSDT.makerFeeBps : BTCUSDT.takerFeeBps)) / 10_000n;
      const sellerFee = (recv * BigInt(buyerIsMaker ? BTCUSDT.takerFeeBps : BTCUSDT.makerFeeBps)) / 10_000n;
      const buyOrder = BigInt(1_000_000 + 2 * i);
      const sellOrder = buyOrder + 1n;
      if (apply) {
        reservations.push(ledger.reserve(buyer, "USDT", pay + 5n, String(buyOrder)));
        reservations.push(ledger.reserve(seller, "BTC", base, String(sellOrder)));
        add(buyer, "USDT", -pay);
        add(buyer, "BTC", base - buyerFee);
        add(seller, "BTC", -base);
        add(seller, "USDT", recv - sellerFee);
        add(FEE_ACCOUNT, "BTC", buyerFee);
        add(FEE_ACCOUNT, "USDT", sellerFee + (pay - recv));
      }
      const buy = order({ orderId: buyOrder, accountId: buyer, side: Side.BUY, status: OrderStatus.FILLED });
      const sell = order({
        orderId: sellOrder,
        accountId: seller,
        side: Side.SELL,
        status: OrderStatus.FILLED,
      });
      events.push({
        header: header(seq, { epoch }),
        symbol: "BTCUSDT",
        event: {
          $case: "trade",
          value: {
            tradeId: BigInt(i + 1),
            price,
            quantity: qty,
            buyerIsMaker,
            maker: buyerIsMaker ? buy : sell,
            taker: buyerIsMaker ? sell : buy,
          },
        },
      });
    };
    for (let i = 0; i < N; i++) trade(i, BigInt(i + 2), 1n, true);
    // Engine failover: epoch 2 re-emits the last 50 events (same sequences: duplicates), then goes on.
    for (const ev of events.slice(-50)) events.push({ ...ev, header: { ...ev.header!, epoch: 2n } });
    trade(N, BigInt(N + 2), 2n, true);
    // A late event from the fenced-off epoch-1 writer must be dropped.
    trade(N + 1, BigInt(N + 3), 1n, false);
    const finalSeq = BigInt(N + 2);
    await Promise.all(reservations);
    await ledger.close();

    const log = await openEmbeddedEventLog({ durability: fileDurability({ dir: logDir }) });
    await log.createTopic("executions.v1", 1);
    for (let i = 0; i < events.length; i += 1000) {
      await log.publish(
        "executions.v1",
        events.slice(i, i + 1000).map((e) => ({ key: "BTCUSDT", value: ExecutionEvent.encode(e).finish() })),
      );
    }
    await log.close();

    // --- run, kill -9 mid-stream three times, run to the end
    const killedAt: bigint[] = [];
    let last = 0n;
    for (let k = 0; k < 3; k++) {
      const child = startWallet();
      const deadline = Date.now() + 60_000;
      while ((await progress()) <= last && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      // Land somewhere inside the next batch: mid-transaction, or between commit and offset commit.
      await new Promise((r) => setTimeout(r, 3 + 17 * k));
      child.kill("SIGKILL");
      await exited(child);
      last = await progress();
      killedAt.push(last);
    }
    expect(
      killedAt.some((s) => s > 0n && s < finalSeq),
      `killed at ${killedAt}`,
    ).toBe(true);

    const child = startWallet();
    const deadline = Date.now() + 90_000;
    while ((await progress()) < finalSeq && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    expect(await progress()).toBe(finalSeq);
    child.kill("SIGTERM");
    expect(await exited(child)).toBe(0);

    // --- exactly once, and conservation
    const trades = await pool.query("select count(*)::int as n from journal_entries where kind = 'trade'");
    expect(trades.rows[0].n).toBe(N + 1);
    const rows = await pool.query("select account_id, asset, free, locked from balances");
    const actual = new Map<string, bigint>();
    for (const r of rows.rows) {
      expect(BigInt(r.locked), `${r.account_id}/${r.asset} locked`).toBe(0n);
      actual.set(`${r.account_id}/${r.asset}`, BigInt(r.free));
    }
    for (const [k, v] of expected) expect(actual.get(k) ?? 0n, k).toBe(v);
    const check = await Ledger.open(pool, { lockTimeoutMs: 10_000 });
    const audit = await check.audit();
    expect(audit.ok).toBe(true);

    // Replaying executions.v1 from the very start (a fresh consumer group) changes nothing.
    const before = await pool.query(
      "select string_agg(account_id||asset||free||'/'||locked, ',' order by 1) as s from balances",
    );
    const replayLog = await openEmbeddedEventLog({ durability: fileDurability({ dir: logDir }) });
    let seen = 0;
    let applied = 0;
    const sub = await startExecutionsConsumer(replayLog, check, {
      groupId: "replay-from-start",
      onSettled: (i) => {
        seen += i.applied + i.skipped;
        applied += i.applied;
      },
    });
    const until = Date.now() + 60_000;
    while (seen < events.length && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    await sub.stop();
    await replayLog.close();
    await check.close();
    expect(seen).toBe(events.length);
    expect(applied).toBe(0);
    const after = await pool.query(
      "select string_agg(account_id||asset||free||'/'||locked, ',' order by 1) as s from balances",
    );
    expect(after.rows[0].s).toBe(before.rows[0].s);
    expect((await pool.query("select count(*)::int as n from settlement_exceptions")).rows[0].n).toBe(0);
    console.log(
      `crash test: killed at sequences ${killedAt.join(", ")} of ${finalSeq}; ${N + 1} trades settled once`,
    );
  }, 240_000);
});
