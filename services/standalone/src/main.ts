/**
 * `npm start`: the whole exchange in one Node process, on embedded defaults.
 * Everything here is the production code of each service, wired to in-process adapters:
 * the embedded event log (durable in PostgreSQL) instead of Kafka, an embedded PostgreSQL
 * instead of a managed one. Set DATABASE_URL / KAFKA_BROKERS to use external systems.
 */
import { resolve } from "node:path";
import {
  type EventLog,
  openEmbeddedEventLog,
  openKafkaEventLog,
  postgresDurability,
} from "@excraft/eventlog";
import { EngineShardService, matchingEngineService, TOPICS } from "@excraft/matching-engine";
import { createMarketDataGateway, createOrderGateway, inProcessWallet } from "@excraft/order-gateway";
import {
  createGrpcServer,
  createLogger,
  createMetrics,
  createPostgresPool,
  createShutdown,
  loadConfig,
  platformConfigSchema,
  postgresReadiness,
  Readiness,
  startOpsServer,
} from "@excraft/platform";
import { OrderCommand } from "@excraft/proto";
import { createWalletHandlers, LocalKeyStore, startWalletApp, type WalletAppOptions } from "@excraft/wallet";
import { getAddress, JsonRpcProvider } from "ethers";
import { Gauge } from "prom-client";
import { DataDirInUseError, lockDataDir } from "./data-dir-lock.ts";
import { ensureDatabase } from "./databases.ts";
import {
  BOT_ACCOUNT,
  DEMO_ASSETS,
  DEMO_TRADER,
  type DemoKey,
  demoKey,
  fundDemoAccounts,
  linkDemoWallet,
} from "./demo-accounts.ts";
import { DEMO_FEES, DEMO_MARKETS } from "./demo-markets.ts";
import { startEmbeddedPostgres } from "./embedded-postgres.ts";
import { type StandaloneChain, startStandaloneChain } from "./local-chain.ts";
import { localSecret } from "./local-secrets.ts";
import { MarketMakerBot } from "./market-maker-bot.ts";
import { parseOptions, usage } from "./options.ts";

let options: ReturnType<typeof parseOptions>;
try {
  options = parseOptions(process.argv.slice(2));
} catch (error) {
  console.error(`${(error as Error).message}\n\n${usage}`);
  process.exit(2);
}
if (options.help) {
  console.log(usage);
  process.exit(0);
}

const config = loadConfig({ LOG_LEVEL: platformConfigSchema.LOG_LEVEL });
const logger = createLogger({ name: "excraft", level: config.LOG_LEVEL });
const metrics = createMetrics({ defaultLabels: { service: "standalone" } });
const readiness = new Readiness();
const shutdown = createShutdown({ logger }).listen();
shutdown.onStart(() => readiness.markShuttingDown());
const ports = {
  wallet: options.basePort + 3,
  marketMaker: options.basePort + 4,
  grpc: options.basePort,
  metrics: options.basePort + 1,
  http: options.basePort + 2,
  chain: options.basePort + 5,
  postgres: options.basePort + 9,
};
const dataDir = resolve(options.dataDir);

const step = (what: string) => logger.info(what);

step(`data directory ${dataDir}`);
const dataDirLock = await lockDataDir(dataDir).catch((error: unknown) => {
  if (!(error instanceof DataDirInUseError)) throw error;
  logger.fatal(error.message);
  process.exit(1);
});
shutdown.register("data directory lock", () => dataDirLock.release());
let databaseUrl = process.env.DATABASE_URL;
if (databaseUrl === undefined || databaseUrl === "") {
  step("starting embedded PostgreSQL");
  const postgres = await startEmbeddedPostgres(dataDir, ports.postgres);
  shutdown.register("postgres server", () => postgres.stop());
  databaseUrl = postgres.url;
}
const pool = createPostgresPool({ url: databaseUrl, logger });
readiness.register("postgres", postgresReadiness(pool));
shutdown.register("postgres pool", () => pool.end());

const ops = await startOpsServer({ host: options.host, port: ports.metrics, metrics, readiness, logger });
shutdown.register("ops server", () => ops.close());

let eventLog: EventLog;
if (process.env.KAFKA_BROKERS) {
  step("connecting to Kafka");
  eventLog = await openKafkaEventLog({ brokers: process.env.KAFKA_BROKERS.split(",") });
} else {
  step("opening the embedded event log (durable in PostgreSQL)");
  eventLog = await openEmbeddedEventLog({ durability: postgresDurability({ url: databaseUrl }) });
}
shutdown.register("event log", () => eventLog.close());

step("starting the matching engine (shard 0)");
const engine = new EngineShardService({
  shard: 0,
  shardCount: 1,
  eventLog,
  pool,
  databaseUrl,
  logger,
  registry: metrics.registry,
  onFatal: (error: unknown) => {
    logger.fatal({ err: error }, "matching engine failed: exiting");
    process.exit(1);
  },
});
readiness.register("matching-engine", async () => {
  if (engine.status !== "active") throw new Error(`matching engine is ${engine.status}`);
});
shutdown.register("matching engine", () => engine.stop());
await engine.start();

const grpc = await createGrpcServer({
  name: "excraft",
  host: options.host,
  port: ports.grpc,
  logger,
  metrics,
  services: [matchingEngineService(engine)],
  shutdown,
  readiness,
});

// The wallet's on-chain side: the local EVM (or ETH_RPC_URL), the hot wallet, ETH and EXT.
let localChain: StandaloneChain | undefined;
let walletChain: WalletAppOptions["chain"];
let extAddress = "";
const hotKeystorePassword = () =>
  localSecret(dataDir, "hot-keystore-password", process.env.HOT_KEYSTORE_PASSWORD);
if (process.env.ETH_RPC_URL) {
  step(`connecting to Ethereum at ${process.env.ETH_RPC_URL}`);
  extAddress = process.env.EXT_TOKEN_ADDRESS ? getAddress(process.env.EXT_TOKEN_ADDRESS) : "";
  walletChain = {
    provider: new JsonRpcProvider(process.env.ETH_RPC_URL),
    keyStore: await LocalKeyStore.openOrCreate(
      resolve(dataDir, "hot-wallet.json"),
      await hotKeystorePassword(),
    ),
    confirmations: options.confirmations,
    assets: [
      { symbol: "ETH", chainDecimals: 18 },
      ...(extAddress ? [{ symbol: "EXT", token: extAddress, chainDecimals: 18 }] : []),
    ],
  };
} else if (options.chain) {
  step("starting the local EVM (replaying its journal) with the ExCraft contracts");
  const started = await startStandaloneChain({
    dataDir,
    port: ports.chain,
    blockTimeSeconds: options.blockTime,
    keystorePassword: await hotKeystorePassword(),
    logger,
  });
  localChain = started;
  shutdown.register("local chain", () => started.close());
  readiness.register("local-chain", async () => {
    await started.chain.provider.getBlockNumber();
  });
  new Gauge({
    name: "local_chain_head_block",
    help: "Newest block of the local EVM",
    registers: [metrics.registry],
    collect() {
      this.set(started.chain.stats().headNumber);
    },
  });
  new Gauge({
    name: "local_chain_journal_records",
    help: "State-changing requests in the local EVM's journal (each fsynced before it was answered)",
    registers: [metrics.registry],
    collect() {
      this.set(started.chain.stats().records);
    },
  });
  extAddress = started.deployment.contracts.EXT;
  walletChain = {
    provider: started.chain.provider,
    keyStore: started.keyStore,
    confirmations: options.confirmations,
    startBlock: started.deployment.local.walletStartBlock,
    pollMs: 1_000,
    assets: [
      { symbol: "ETH", chainDecimals: 18 },
      { symbol: "EXT", token: extAddress, chainDecimals: 18 },
    ],
  };
}

step("starting the wallet (its own database, settling executions.v1)");
const wallet = await startWalletApp({
  ...(walletChain ? { chain: walletChain } : {}),
  databaseUrl: await ensureDatabase(databaseUrl, "excraft_wallet"),
  eventLog,
  logger,
  metrics,
  grpcHost: options.host,
  grpcPort: ports.wallet,
  siwe: {
    domain: `${options.host}:${ports.http}`,
    uri: `http://${options.host}:${ports.http}/v1/link`,
    chainId: 31337,
  },
  kycWebhookSecret: await localSecret(dataDir, "kyc-webhook-secret", process.env.KYC_WEBHOOK_SECRET),
  assets: Object.entries(DEMO_ASSETS).map(([symbol, decimals]) => ({
    symbol,
    decimals,
    contractAddress: symbol === "EXT" ? extAddress : "",
  })),
  markets: DEMO_MARKETS.map(({ spec }) => ({
    symbol: spec.symbol,
    baseAsset: spec.baseAsset,
    quoteAsset: spec.quoteAsset,
    priceScale: spec.priceScale,
    quantityScale: spec.quantityScale,
    ...DEMO_FEES,
  })),
});
shutdown.register("wallet", () => wallet.stop());

step("starting the gateway (REST + WebSocket: market data and signed order entry)");
const gateway = createMarketDataGateway({
  eventLog,
  pool,
  engine: `${options.host}:${grpc.port}`,
  logger,
  metrics,
  host: options.host,
  port: ports.http,
});
const orderEntry = createOrderGateway({
  gateway,
  eventLog,
  pool,
  engine: `${options.host}:${grpc.port}`,
  // One process: order entry calls the wallet's handlers directly (same answers and errors as gRPC).
  wallet: inProcessWallet(createWalletHandlers(wallet.ledger, wallet.identity, { chain: wallet.chain })),
  identity: `${options.host}:${wallet.grpc.port}`,
  logger,
  masterKey: await localSecret(dataDir, "api-key-master-key", process.env.API_KEY_MASTER_KEY),
  adminToken: process.env.GATEWAY_ADMIN_TOKEN || undefined,
  marketMaker: { registry: metrics.registry },
  // GET /sapi/v1/capital/deposit/address answers the wallet's hot address (ETH and EXT deposits).
  capital: { depositAddress: wallet.chain ? await wallet.chain.hotAddress() : undefined },
});
// Asset decimals and fee rates come from the wallet (GetAssets, GetFeeRates): one configuration.
readiness.register("wallet-reference", async () => {
  if (!orderEntry.reference.ready) throw new Error("wallet assets not loaded yet");
});
await orderEntry.start();
// Its own server: a market maker's session stream lives as long as the session, so it is exempt
// from the per-call time limit the other gRPC APIs have.
const marketMakerGrpc = await createGrpcServer({
  name: "market-maker",
  host: options.host,
  port: ports.marketMaker,
  logger,
  metrics,
  maxHandlingMs: Number.POSITIVE_INFINITY,
  services: [orderEntry.marketMakerService],
  shutdown,
  readiness,
});
const http = await gateway.start();
shutdown.register("gateway", async () => {
  await gateway.stop();
  await orderEntry.stop();
});

let trader: DemoKey | undefined;
if (options.demo) {
  const existing = new Set(engine.processor!.engine.markets().map((book) => book.spec.symbol));
  const missing = DEMO_MARKETS.filter((market) => !existing.has(market.spec.symbol));
  if (missing.length > 0) {
    step(`adding demo markets ${missing.map((m) => m.spec.symbol).join(", ")}`);
    await eventLog.publish(
      TOPICS.orders,
      missing.map((market) => ({
        key: market.spec.symbol,
        partition: 0,
        value: OrderCommand.encode({
          commandId: `demo-add-${market.spec.symbol}`,
          timeMs: BigInt(Date.now()),
          symbol: market.spec.symbol,
          command: { $case: "addMarket", value: { spec: market.spec } },
        }).finish(),
      })),
    );
  }
  await fundDemoAccounts(wallet.ledger);
  if (localChain) await linkDemoWallet(wallet.identity, DEMO_TRADER, localChain.depositor);
  trader = await demoKey(orderEntry.keys, DEMO_TRADER, {
    apiKey: process.env.EXCRAFT_DEMO_API_KEY,
    secret: process.env.EXCRAFT_DEMO_API_SECRET,
  });
  if (options.bot) {
    const botKey = await demoKey(orderEntry.keys, BOT_ACCOUNT);
    const bot = new MarketMakerBot({
      restUrl: http.url,
      apiKey: botKey.apiKey,
      secret: botKey.secret,
      markets: DEMO_MARKETS,
      logger,
    });
    bot.start();
    shutdown.register("market-maker bot", () => bot.stop());
    step("market-making bot quoting the demo markets every 2 s through the signed REST API");
  }
}

const host = options.host;
console.log(`
ExCraft is running (one process, embedded defaults). Stop with Ctrl-C; state is kept in ${dataDir}.
  REST     ${http.url}/api/v3   (Binance Spot v3: public market data and signed order/account endpoints)
  WebSocket ${http.wsUrl}/ws/<stream>, ${http.wsUrl}/stream?streams=  (market streams); ${http.wsUrl}/ws-api/v3 (user data)
  gRPC     ${host}:${grpc.port}   excraft.v1.MatchingEngine;  ${host}:${wallet.grpc.port}   excraft.v1.Wallet
  FIX-like ${host}:${marketMakerGrpc.port}   excraft.v1.MarketMaker/Session (market makers; all gRPC ports serve health + reflection)
  metrics  http://${host}:${ops.port}/metrics   health: /healthz  readiness: /readyz
  postgres ${databaseUrl.replace(/:[^:@/]+@/, ":***@")}
${chainBanner()}${
  trader
    ? `Demo trader "${DEMO_TRADER}" (funded with BTC, ETH, EXT, USDT):
  API key    ${trader.apiKey}
  API secret ${trader.created ? trader.secret : "(as given in EXCRAFT_DEMO_API_SECRET, or printed when it was created)"}
${
  localChain
    ? `  linked ETH address ${localChain.depositor.address} (Hardhat dev account #1, private key ${localChain.depositor.privateKey}:
    holds ETH and EXT; send either to the hot wallet and it is credited after ${options.confirmations} confirmations)
`
    : ""
}`
    : ""
}Not yet in this build: WebSocket API trading methods, the PoE recorder, reward distributor and DAO services.
`);

function chainBanner(): string {
  if (localChain) {
    const c = localChain.deployment.contracts;
    return `  chain    ${localChain.rpcUrl}   local EVM (JSON-RPC), chain id ${localChain.chainId}; journal ${localChain.chain.journalFile}
  contracts EXT ${c.EXT}  PoEAnchor ${c.PoEAnchor}  EmissionSchedule ${c.EmissionSchedule}
           ExtBurner ${c.ExtBurner}  TradingPools ${c.TradingPools}  (all: ${localChain.deploymentFile})
  hot wallet ${localChain.deployment.local.hotWallet}   (ETH and EXT deposits go here, from the account's linked address)
`;
  }
  if (walletChain)
    return `  chain    ${process.env.ETH_RPC_URL} (ETH_RPC_URL)${extAddress ? `, EXT ${extAddress}` : ""}\n`;
  return "  chain    off (--no-chain): no on-chain deposits or withdrawals\n";
}
