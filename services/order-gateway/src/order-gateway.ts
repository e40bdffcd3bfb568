/**
 * The order-entry half of the gateway, mounted on the market-data gateway's fastify app (same port):
 * signed Binance v3 order/account endpoints under /api/v3, native API-key administration under /v1,
 * native signed /v1 linked-wallet and identity endpoints (account-routes.ts), Binance's signed
 * /sapi/v1/capital deposit/withdrawal endpoints over the wallet (capital-routes.ts),
 * the order/trade projection of executions.v1, and the reservation reconciler.
 *
 *   const md = createMarketDataGateway({...});
 *   const orders = createOrderGateway({ gateway: md, eventLog, pool, engine, wallet, logger, masterKey });
 *   await orders.start();   // wallet assets, tables, projection consumer, reconciler (before md.start())
 *   await md.start();       // listens
 *   ...; await md.stop(); await orders.stop();
 */
import type { EventLog } from "@excraft/eventlog";
import type { Logger } from "@excraft/platform";
import type { MatchingEngineClient, WalletClient } from "@excraft/proto";
import type pg from "pg";
import { grpcOrderBookSource } from "./engine/order-book-source.ts";
import type { MarketDataGateway } from "./gateway.ts";
import { accountRoutes, grpcIdentity, type IdentityPort } from "./http/account-routes.ts";
import { capitalRoutes } from "./http/capital-routes.ts";
import { keyRoutes } from "./http/key-routes.ts";
import { openApiRoutes } from "./http/openapi.ts";
import { orderRoutes } from "./http/order-routes.ts";
import { InMemoryRateLimitStore, type RateLimitStore } from "./http/rate-limit.ts";
import { registerFormBody } from "./http/signed.ts";
import { ApiKeyStore, parseMasterKey } from "./keys/api-keys.ts";
import { type MarketMakerOptions, MarketMakerSessions } from "./market-maker/sessions.ts";
import { grpcEngineOrders, grpcWallet, type WalletPort } from "./orders/backends.ts";
import { OrderEntry } from "./orders/order-entry.ts";
import { OrderIdAllocator } from "./orders/order-ids.ts";
import { OrderProjection, PendingCommands } from "./orders/projection.ts";
import { ReservationReconciler } from "./orders/reconciler.ts";
import { ReservationJournal } from "./orders/reservations.ts";
import { migrateOrderEntry } from "./orders/schema.ts";
import { WalletReference } from "./orders/wallet-reference.ts";
import { UserDataServer } from "./ws/user-data.ts";

export interface OrderGatewayOptions {
  /** The market-data gateway whose app (and market registry) the order routes join. */
  gateway: MarketDataGateway;
  eventLog: EventLog;
  /** The gateway's PostgreSQL (api_keys, og_* tables, order_id_seq). */
  pool: pg.Pool;
  /** MatchingEngine gRPC ("host:port" or client): GetOrder for reconciliation, GetOrderBook for MARKET buys. */
  engine: string | MatchingEngineClient;
  /** excraft.v1.Wallet gRPC ("host:port" or client), or a WalletPort. */
  wallet: string | WalletClient | WalletPort;
  /**
   * The wallet's identity RPCs (CreateLinkChallenge, LinkWallet, UnlinkWallet, GetKyc) behind the
   * /v1 wallet/account routes: gRPC address, client or IdentityPort. Default: `wallet` when it is an
   * address or a client; with neither (a WalletPort wallet) the routes are not mounted.
   */
  identity?: string | WalletClient | IdentityPort;
  logger: Logger;
  /** AES-256-GCM key for API secrets at rest: 64 hex chars or base64 of 32 bytes. */
  masterKey: string | Buffer;
  /** Bearer token of the /v1 API-key routes; unset = routes not mounted. */
  adminToken?: string;
  /**
   * Asset decimals and fee rates come from the wallet (GetAssets at start, GetFeeRates per account):
   * `feeCacheMs` is how long an unused account's rates stay in memory (default 5 s; reported fees
   * follow the wallet's schedule whatever it is), `retryMs` the pause between
   * GetAssets attempts while the wallet does not answer at start (default 1 s).
   */
  walletReference?: { feeCacheMs?: number; retryMs?: number };
  ordersLimit?: { per10s?: number; perDay?: number; store?: RateLimitStore };
  /** Consumer group of the projection; must differ per replica (default "order-gateway.orders"). */
  groupId?: string;
  responseTimeoutMs?: number;
  reconcile?: { timeoutMs?: number; intervalMs?: number };
  stopBuyHeadroomBps?: number;
  /**
   * WebSocket API user data stream at /ws-api/v3: `ledgerGroupId` (default `<groupId>.ledger`) is this
   * instance's group on the wallet's `ledgerTopic` (default ledger.v1) for outboundAccountPosition.
   */
  userData?: { ledgerGroupId?: string; ledgerTopic?: string };
  /**
   * The market-maker gRPC session (`marketMakerService`): `registry` for its instruments (the platform
   * metrics registry), `logonWindowMs` (5 000), `keepMessages` (10 000), `heartbeatIntervalMs` (30 000).
   */
  marketMaker?: Pick<
    MarketMakerOptions,
    "registry" | "logonWindowMs" | "keepMessages" | "heartbeatIntervalMs"
  >;
  /**
   * Binance's /sapi/v1/capital endpoints (deposits, withdrawals, deposit address) over the wallet:
   * `depositAddress` is the exchange's hot wallet, where ETH and EXT are deposited (the wallet's chain
   * gateway key; unset: `deposit/address` answers -5011); `walletPageSize` the rows asked of the wallet
   * per ListDeposits / ListWithdrawals call while walking to Binance's offset (default and maximum 1000).
   */
  capital?: { depositAddress?: string; walletPageSize?: number };
  /** Cache of API-key lookups (default 5 s; revocations reach other replicas within it). */
  keyCacheMs?: number;
  now?: () => number;
}

export interface OrderGateway {
  keys: ApiKeyStore;
  projection: OrderProjection;
  reconciler: ReservationReconciler;
  orderIds: OrderIdAllocator;
  userData: UserDataServer;
  /** FIX-like market-maker sessions over gRPC. */
  marketMaker: MarketMakerSessions;
  /** `{ definition, implementation }` of excraft.v1.MarketMaker for createGrpcServer's `services`. */
  marketMakerService: MarketMakerSessions["service"];
  /** The wallet's asset decimals and account fee rates; `ready` once the assets are loaded (readiness). */
  reference: WalletReference;
  /** Loads the wallet's assets (retried until it answers), creates tables, starts the projection and the reconciler. Call before the gateway listens. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

function isWalletPort(w: OrderGatewayOptions["wallet"]): w is WalletPort {
  return typeof w === "object" && "reserve" in w && "balances" in w && "feeRates" in w;
}

function isIdentityPort(i: string | WalletClient | IdentityPort): i is IdentityPort {
  return typeof i === "object" && "getIdentity" in i;
}

export function createOrderGateway(options: OrderGatewayOptions): OrderGateway {
  const now = options.now ?? Date.now;
  const { app } = options.gateway;
  const masterKey = Buffer.isBuffer(options.masterKey)
    ? options.masterKey
    : parseMasterKey(options.masterKey);
  const keys = new ApiKeyStore(options.pool, masterKey, options.keyCacheMs ?? 5_000, now);
  const wallet = isWalletPort(options.wallet) ? options.wallet : grpcWallet(options.wallet);
  const identitySource = options.identity ?? (isWalletPort(options.wallet) ? undefined : options.wallet);
  const identity =
    identitySource === undefined || isIdentityPort(identitySource)
      ? identitySource
      : grpcIdentity(identitySource);
  const engineOrders = grpcEngineOrders(options.engine);
  const books = grpcOrderBookSource({ engine: options.engine });
  const pending = new PendingCommands();
  const reference = new WalletReference({
    wallet,
    markets: options.gateway.markets,
    logger: options.logger,
    ttlMs: options.walletReference?.feeCacheMs,
    retryMs: options.walletReference?.retryMs,
    now,
  });
  const orderIds = new OrderIdAllocator(options.pool);
  const projection = new OrderProjection({
    eventLog: options.eventLog,
    pool: options.pool,
    markets: options.gateway.markets,
    logger: options.logger,
    pending,
    reference,
    groupId: options.groupId ?? "order-gateway.orders",
  });

  const reservations = new ReservationJournal({
    pool: options.pool,
    logger: options.logger,
    now,
    registry: options.marketMaker?.registry,
  });
  const entry = new OrderEntry({
    eventLog: options.eventLog,
    wallet,
    books,
    orderIds,
    pending,
    reservations,
    logger: options.logger,
    ordersLimit: {
      store: options.ordersLimit?.store ?? new InMemoryRateLimitStore(),
      per10s: options.ordersLimit?.per10s ?? 100,
      perDay: options.ordersLimit?.perDay ?? 200_000,
    },
    reference,
    responseTimeoutMs: options.responseTimeoutMs ?? 10_000,
    stopBuyHeadroomBps: options.stopBuyHeadroomBps ?? 1_000,
    now,
  });

  const reconciler = new ReservationReconciler({
    pool: options.pool,
    wallet,
    engine: engineOrders,
    logger: options.logger,
    timeoutMs: options.reconcile?.timeoutMs ?? 30_000,
    intervalMs: options.reconcile?.intervalMs ?? 10_000,
    now,
  });

  const groupId = options.groupId ?? "order-gateway.orders";
  const userData = new UserDataServer({
    keys,
    now,
    markets: options.gateway.markets,
    logger: options.logger,
    eventLog: options.eventLog,
    feesOf: reference.cachedFees,
    decimalsOf: reference.decimalsOf,
    ledgerGroupId: options.userData?.ledgerGroupId ?? `${groupId}.ledger`,
    ledgerTopic: options.userData?.ledgerTopic,
  });
  options.gateway.wsServer.addUpgradeHandler(userData.handleUpgrade);
  projection.addListener(userData.onExecutions);

  const marketMaker = new MarketMakerSessions({
    ...options.marketMaker,
    entry,
    keys,
    markets: options.gateway.markets,
    engine: engineOrders,
    pool: options.pool,
    logger: options.logger,
    now,
  });
  // Reports are derived and stored in the projection's transactions (they survive restarts with it).
  projection.addParticipant(marketMaker.participant);

  app.register(
    async (scope) => {
      registerFormBody(scope);
      await scope.register(orderRoutes, {
        markets: options.gateway.markets,
        keys,
        wallet,
        entry,
        pool: options.pool,
        logger: options.logger,
        reference,
        now,
      });
    },
    { prefix: "/api/v3" },
  );
  if (options.adminToken) app.register(keyRoutes, { prefix: "/v1", keys, adminToken: options.adminToken });
  if (identity) app.register(accountRoutes, { prefix: "/v1", keys, identity, now });
  app.register(capitalRoutes, {
    prefix: "/sapi/v1",
    keys,
    wallet,
    reference,
    logger: options.logger,
    now,
    depositAddress: options.capital?.depositAddress,
    walletPageSize: options.capital?.walletPageSize,
  });
  app.register(openApiRoutes);

  let started = false;
  return {
    keys,
    projection,
    reconciler,
    orderIds,
    userData,
    marketMaker,
    marketMakerService: marketMaker.service,
    reference,
    async start() {
      // Decimals first: reservations and commissions are meaningless without them.
      await reference.start();
      await migrateOrderEntry(options.pool);
      await orderIds.migrate();
      await marketMaker.start();
      await projection.start();
      await userData.start();
      reconciler.start();
      started = true;
    },
    async stop() {
      reference.stop();
      if (!started) return;
      started = false;
      await marketMaker.close();
      await reconciler.stop();
      await reservations.flush();
      await userData.stop();
      await projection.stop();
      pending.clear();
      engineOrders.close();
      books.close();
      wallet.close();
      identity?.close();
    },
  };
}
