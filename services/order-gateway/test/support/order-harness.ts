/**
 * The exchange for order-entry tests: the engine shard of harness.ts, the real wallet
 * (`startWalletApp`: ledger in its own PostgreSQL database, gRPC server, executions.v1 consumer) and
 * gateway instances (market data + order entry) on real HTTP. Test-only.
 */
import { createMetrics, createPostgresPool } from "@excraft/platform";
import { WalletClient } from "@excraft/proto";
import { startWalletApp, type WalletApp } from "@excraft/wallet";
import { credentials } from "@grpc/grpc-js";
import type pg from "pg";
import type { RateLimitOptions } from "../../src/http/rate-limit.ts";
import {
  createMarketDataGateway,
  createOrderGateway,
  type MarketDataGateway,
  type OrderGateway,
  type OrderGatewayOptions,
  sign,
} from "../../src/index.ts";
import { addMarket, BTCUSDT, type Exchange, logger, send, startExchange, waitUntil } from "./harness.ts";

export const ASSETS = [
  { symbol: "BTC", decimals: 8, contractAddress: "" },
  { symbol: "USDT", decimals: 6, contractAddress: "" },
];
export const FEES = { BTCUSDT: { makerBps: 10, takerBps: 20 } };
export const MASTER_KEY = "11".repeat(32);
export const ADMIN = "admin-token-for-tests";

export interface OrderExchange {
  ex: Exchange;
  wallet: WalletApp;
  walletClient: WalletClient;
  walletAddress: string;
  gatewayPool: pg.Pool;
  stop(): Promise<void>;
}

/** `feeChangeNoticeMs`: the wallet's least time between a fee change and its effect (wallet default 10 s). */
export async function startOrderExchange(o: { feeChangeNoticeMs?: number } = {}): Promise<OrderExchange> {
  const ex = await startExchange();
  const walletUrl = await ex.postgres.createDatabase("wallet");
  await ex.log.createTopic("ledger.v1", 1);
  const wallet = await startWalletApp({
    databaseUrl: walletUrl,
    eventLog: ex.log,
    logger,
    siwe: { domain: "excraft.test", uri: "https://excraft.test/link", chainId: 31337 },
    kycWebhookSecret: "unused",
    assets: ASSETS,
    markets: [
      {
        symbol: "BTCUSDT",
        baseAsset: "BTC",
        quoteAsset: "USDT",
        priceScale: 2,
        quantityScale: 4,
        makerFeeBps: FEES.BTCUSDT.makerBps,
        takerFeeBps: FEES.BTCUSDT.takerBps,
      },
    ],
    auditIntervalMs: 3_600_000,
    publishLedger: true,
    ...(o.feeChangeNoticeMs === undefined ? {} : { feeChangeNoticeMs: o.feeChangeNoticeMs }),
  });
  const walletAddress = wallet.grpc.address;
  const walletClient = new WalletClient(walletAddress, credentials.createInsecure());
  const gatewayUrl = await ex.postgres.createDatabase("gateway_orders");
  const gatewayPool = createPostgresPool({ url: gatewayUrl });
  await send(ex.log, [addMarket(BTCUSDT, Date.now())]);
  return {
    ex,
    wallet,
    walletClient,
    walletAddress,
    gatewayPool,
    async stop() {
      walletClient.close();
      wallet.pool.on("error", () => {});
      await wallet.stop().catch(() => {});
      await gatewayPool.end().catch(() => {});
      await ex.stop();
    },
  };
}

export interface GatewayInstance {
  md: MarketDataGateway;
  orders: OrderGateway;
  url: string;
  stop(): Promise<void>;
}

export async function startGateway(
  oe: OrderExchange,
  overrides: Partial<OrderGatewayOptions> & { rateLimit?: RateLimitOptions; mdGroupId?: string } = {},
): Promise<GatewayInstance> {
  const md = createMarketDataGateway({
    eventLog: oe.ex.log,
    pool: oe.gatewayPool,
    engine: oe.ex.engineAddress,
    logger,
    metrics: createMetrics({ defaultMetrics: false }),
    groupId: overrides.mdGroupId,
    rateLimit: overrides.rateLimit,
    now: overrides.now,
  });
  const orders = createOrderGateway({
    gateway: md,
    eventLog: oe.ex.log,
    pool: oe.gatewayPool,
    engine: oe.ex.engineAddress,
    wallet: oe.walletAddress,
    logger,
    masterKey: MASTER_KEY,
    adminToken: ADMIN,
    ...overrides,
  });
  await orders.start();
  const { url } = await md.start();
  await waitUntil("BTCUSDT known", () => md.markets.get("BTCUSDT") !== undefined);
  return {
    md,
    orders,
    url,
    async stop() {
      await md.stop();
      await orders.stop();
    },
  };
}

/** Unary wallet call as a promise. */
export function walletCall<Res>(client: WalletClient, method: string, request: unknown): Promise<Res> {
  return new Promise((resolve, reject) => {
    // biome-ignore lint/suspicious/noExplicitAny: generic dispatch over the client's unary methods
    (client as any)[method](request, (e: Error | null, r: Res) => (e ? reject(e) : resolve(r)));
  });
}

/** Funds an account through the wallet's operator credit (idempotent by `id`). */
export function credit(oe: OrderExchange, account: string, asset: string, amount: bigint, id: string) {
  return walletCall(oe.walletClient, "operatorAdjust", {
    adjustmentId: id,
    accountId: account,
    asset,
    amount,
    reason: "test funding",
    operator: "test",
  });
}

export interface Key {
  apiKey: string;
  secretKey: string;
}

/** A Binance-style signed client of one gateway. */
export function client(url: string, key: Key, clock: () => number = Date.now) {
  return async (
    method: "GET" | "POST" | "DELETE",
    path: string,
    params: Record<string, string | number> = {},
    opts: { inBody?: boolean; signature?: string; timestamp?: number; headers?: Record<string, string> } = {},
  ) => {
    const all = { ...params, timestamp: opts.timestamp ?? clock() };
    const text = new URLSearchParams(
      Object.entries(all).map(([k, v]): [string, string] => [k, String(v)]),
    ).toString();
    const signature = opts.signature ?? sign(key.secretKey, text);
    const signed = `${text}&signature=${signature}`;
    const inBody = opts.inBody ?? method === "POST";
    const response = await fetch(`${url}/api/v3${path}${inBody ? "" : `?${signed}`}`, {
      method,
      headers: {
        "X-MBX-APIKEY": key.apiKey,
        ...(inBody ? { "content-type": "application/x-www-form-urlencoded" } : {}),
        ...opts.headers,
      },
      body: inBody ? signed : undefined,
    });
    const body = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      body: body === "" ? undefined : JSON.parse(body),
    };
  };
}

export async function createKey(url: string, accountId: string, permissions: string[]): Promise<Key> {
  const response = await fetch(`${url}/v1/accounts/${accountId}/api-keys`, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
    body: JSON.stringify({ permissions, label: "test" }),
  });
  if (response.status !== 201) throw new Error(`create key: ${response.status} ${await response.text()}`);
  return (await response.json()) as Key;
}
