/**
 * The exchange for order-entry tests: the engine shard of harness.ts, the real wallet
 * (`startWalletApp`: ledger in its own PostgreSQL database, gRPC server, executions.v1 consumer) and
 * gateway instances (market data + order entry) on real HTTP. Test-only.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deployTestExt, type LocalChain, startLocalChain } from "@excraft/chain/local-chain";
import { createMetrics, createPostgresPool } from "@excraft/platform";
import { WalletClient } from "@excraft/proto";
import { LocalKeyStore, startWalletApp, type WalletApp } from "@excraft/wallet";
import { credentials } from "@grpc/grpc-js";
import type { Contract } from "ethers";
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

/** The on-chain side of an exchange started with `chain`: an in-process EVM, EXT, the wallet's hot key. */
export interface ExchangeChain {
  local: LocalChain;
  /** EXT on the local chain: its sale allocation minted to wallets[1], the rest to wallets[0]. */
  ext: Contract;
  /** The wallet's hot address (where deposits go), EIP-55. */
  hotAddress: string;
  /** Confirmations the wallet credits deposits at. */
  confirmations: number;
}

export interface OrderExchange {
  ex: Exchange;
  wallet: WalletApp;
  walletClient: WalletClient;
  walletAddress: string;
  gatewayPool: pg.Pool;
  /** Present when started with `chain`. */
  chain?: ExchangeChain;
  stop(): Promise<void>;
}

/** ETH and EXT as the wallet keeps them (8 ledger decimals; 18 on chain). */
export const CHAIN_ASSETS = ["ETH", "EXT"] as const;

/**
 * `feeChangeNoticeMs`: the wallet's least time between a fee change and its effect (wallet default 10 s).
 * `chain`: also an in-process EVM with EXT deployed and the wallet's chain gateway on it (ETH and EXT
 * deposits and withdrawals), as in the wallet's own tests: its poll timer is set far out, a test drives
 * `wallet.chain.pollDeposits / sendPending / confirmSent` itself.
 */
export async function startOrderExchange(
  o: { feeChangeNoticeMs?: number; chain?: { confirmations: number } } = {},
): Promise<OrderExchange> {
  const ex = await startExchange();
  const walletUrl = await ex.postgres.createDatabase("wallet");
  await ex.log.createTopic("ledger.v1", 1);
  let chain: ExchangeChain | undefined;
  let keystoreDir: string | undefined;
  let walletChain: Parameters<typeof startWalletApp>[0]["chain"];
  if (o.chain) {
    const local = await startLocalChain(6);
    const ext = await deployTestExt(local);
    keystoreDir = await mkdtemp(join(tmpdir(), "gateway-hot-keystore-"));
    const keyStore = await LocalKeyStore.openOrCreate(join(keystoreDir, "hot.json"), "gateway test password");
    walletChain = {
      provider: local.provider,
      keyStore,
      assets: [
        { symbol: "ETH", chainDecimals: 18 },
        { symbol: "EXT", token: await ext.getAddress(), chainDecimals: 18 },
      ],
      confirmations: o.chain.confirmations,
      // The newest confirmed block: the first (automatic) poll scans it, which marks that poll done.
      startBlock: (await local.provider.getBlockNumber()) - (o.chain.confirmations - 1),
      pollMs: 3_600_000,
    };
    chain = { local, ext, hotAddress: "", confirmations: o.chain.confirmations }; // hotAddress: below
  }
  const assets = chain
    ? [
        ...ASSETS,
        { symbol: "ETH", decimals: 8, contractAddress: "" },
        { symbol: "EXT", decimals: 8, contractAddress: await chain.ext.getAddress() },
      ]
    : ASSETS;
  const wallet = await startWalletApp({
    ...(walletChain ? { chain: walletChain } : {}),
    databaseUrl: walletUrl,
    eventLog: ex.log,
    logger,
    siwe: { domain: "excraft.test", uri: "https://excraft.test/link", chainId: 31337 },
    kycWebhookSecret: "unused",
    assets,
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
  if (chain) {
    chain.hotAddress = await wallet.chain!.hotAddress();
    // Let the chain gateway's first (automatic) poll finish before a test drives it.
    await waitUntil("first chain poll", async () => {
      const r = await wallet.pool.query("select 1 from chain_progress where name = 'deposits'");
      return r.rows.length > 0;
    });
  }
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
    chain,
    async stop() {
      walletClient.close();
      wallet.pool.on("error", () => {});
      await wallet.stop().catch(() => {});
      await gatewayPool.end().catch(() => {});
      await ex.stop();
      if (keystoreDir) await rm(keystoreDir, { recursive: true, force: true });
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
    opts: {
      inBody?: boolean;
      signature?: string;
      timestamp?: number;
      headers?: Record<string, string>;
      /** Path prefix (default /api/v3; /sapi/v1 for the capital endpoints). */
      prefix?: string;
    } = {},
  ) => {
    const all = { ...params, timestamp: opts.timestamp ?? clock() };
    const text = new URLSearchParams(
      Object.entries(all).map(([k, v]): [string, string] => [k, String(v)]),
    ).toString();
    const signature = opts.signature ?? sign(key.secretKey, text);
    const signed = `${text}&signature=${signature}`;
    const inBody = opts.inBody ?? method === "POST";
    const response = await fetch(`${url}${opts.prefix ?? "/api/v3"}${path}${inBody ? "" : `?${signed}`}`, {
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

/** A key through the admin route; a `withdraw` key is bound to loopback (it must name its IPs). */
export async function createKey(url: string, accountId: string, permissions: string[]): Promise<Key> {
  const ipAllowList = permissions.includes("withdraw") ? ["127.0.0.1"] : [];
  const response = await fetch(`${url}/v1/accounts/${accountId}/api-keys`, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
    body: JSON.stringify({ permissions, label: "test", ipAllowList }),
  });
  if (response.status !== 201) throw new Error(`create key: ${response.status} ${await response.text()}`);
  return (await response.json()) as Key;
}
