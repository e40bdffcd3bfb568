import {
  type EventLog,
  fileDurability,
  openEmbeddedEventLog,
  openKafkaEventLog,
  postgresDurability,
} from "@excraft/eventlog";
import { createLogger, createShutdown, env, loadConfig, platformConfigSchema } from "@excraft/platform";
import { JsonRpcProvider } from "ethers";
import { startWalletApp, type WalletAppOptions } from "./app";
import { LocalKeyStore } from "./chain";
import type { AssetInfo, MarketConfig } from "./state";

/** Environment of the wallet process (see README.md). */
export const walletConfigSchema = {
  ...platformConfigSchema,
  DATABASE_URL: env.url({ description: "PostgreSQL of the wallet (the only writer of balances)" }),
  EVENTLOG: env.enum(["kafka", "embedded-file", "embedded-postgres"], {
    description: "EventLog adapter for executions.v1 / ledger.v1",
    default: "embedded-file",
  }),
  EVENTLOG_DIR: env.string({
    description: "Directory of the embedded file event log",
    default: ".data/eventlog",
  }),
  EVENTLOG_DATABASE_URL: env.optional(env.url({ description: "PostgreSQL of the embedded event log" })),
  KAFKA_BROKERS: env.optional(env.string({ description: "Comma-separated Kafka bootstrap brokers" })),
  WALLET_WEBHOOK_PORT: env.port({ description: "Port of POST /kyc/webhook", default: 8088, allowZero: true }),
  KYC_WEBHOOK_SECRET: env.string({ description: "HMAC secret shared with the KYC provider", secret: true }),
  SIWE_DOMAIN: env.string({
    description: "Domain in Sign-In with Ethereum messages",
    default: "excraft.local",
  }),
  SIWE_URI: env.string({
    description: "URI in Sign-In with Ethereum messages",
    default: "https://excraft.local/link",
  }),
  SIWE_CHAIN_ID: env.int({ description: "Chain id in Sign-In with Ethereum messages", default: 1, min: 1 }),
  WALLET_ASSETS: env.string({
    description: "Assets as JSON [{symbol,decimals,contractAddress}]",
    default: "[]",
  }),
  WALLET_MARKETS: env.string({
    description:
      "Markets as JSON [{symbol,baseAsset,quoteAsset,priceScale,quantityScale,makerFeeBps,takerFeeBps}]",
    default: "[]",
  }),
  ETH_RPC_URL: env.optional(
    env.url({ description: "Ethereum JSON-RPC for ETH/EXT deposits and withdrawals" }),
  ),
  HOT_KEYSTORE_FILE: env.string({
    description: "Encrypted JSON keystore of the hot wallet",
    default: ".data/hot-wallet.json",
  }),
  HOT_KEYSTORE_PASSWORD: env.optional(
    env.string({ description: "Password of the hot wallet keystore", secret: true }),
  ),
  EXT_TOKEN_ADDRESS: env.optional(env.string({ description: "EXT ERC-20 contract address" })),
  CHAIN_CONFIRMATIONS: env.int({
    description: "Confirmations before a deposit or withdrawal counts",
    default: 12,
    min: 1,
  }),
  WALLET_MAX_BATCH: env.int({ description: "Most commands per group commit", default: 2000, min: 1 }),
};

async function main(): Promise<void> {
  const config = loadConfig(walletConfigSchema);
  const logger = createLogger({ name: "wallet", level: config.LOG_LEVEL });
  let log: EventLog;
  if (config.EVENTLOG === "kafka") {
    if (!config.KAFKA_BROKERS) throw new Error("KAFKA_BROKERS is required with EVENTLOG=kafka");
    log = await openKafkaEventLog({ brokers: config.KAFKA_BROKERS.split(","), clientId: "wallet" });
  } else if (config.EVENTLOG === "embedded-postgres") {
    log = await openEmbeddedEventLog({
      durability: postgresDurability({ url: config.EVENTLOG_DATABASE_URL ?? config.DATABASE_URL }),
    });
  } else {
    log = await openEmbeddedEventLog({ durability: fileDurability({ dir: config.EVENTLOG_DIR }) });
  }
  let chain: WalletAppOptions["chain"];
  if (config.ETH_RPC_URL) {
    if (!config.HOT_KEYSTORE_PASSWORD) throw new Error("HOT_KEYSTORE_PASSWORD is required with ETH_RPC_URL");
    chain = {
      provider: new JsonRpcProvider(config.ETH_RPC_URL),
      keyStore: await LocalKeyStore.openOrCreate(config.HOT_KEYSTORE_FILE, config.HOT_KEYSTORE_PASSWORD),
      confirmations: config.CHAIN_CONFIRMATIONS,
      assets: [
        { symbol: "ETH", chainDecimals: 18 },
        ...(config.EXT_TOKEN_ADDRESS
          ? [{ symbol: "EXT", token: config.EXT_TOKEN_ADDRESS, chainDecimals: 18 }]
          : []),
      ],
    };
  }
  const app = await startWalletApp({
    ...(chain ? { chain } : {}),
    databaseUrl: config.DATABASE_URL,
    eventLog: log,
    logger,
    grpcHost: config.GRPC_HOST,
    grpcPort: config.GRPC_PORT,
    opsHost: config.METRICS_HOST,
    opsPort: config.METRICS_PORT,
    webhookPort: config.WALLET_WEBHOOK_PORT,
    kycWebhookSecret: config.KYC_WEBHOOK_SECRET,
    siwe: { domain: config.SIWE_DOMAIN, uri: config.SIWE_URI, chainId: config.SIWE_CHAIN_ID },
    assets: JSON.parse(config.WALLET_ASSETS) as AssetInfo[],
    markets: JSON.parse(config.WALLET_MARKETS) as MarketConfig[],
    maxBatch: config.WALLET_MAX_BATCH,
  });
  const shutdown = createShutdown({ logger, timeoutMs: config.SHUTDOWN_TIMEOUT_MS + 5_000 }).listen();
  shutdown.register("event log", () => log.close());
  shutdown.register("wallet", () => app.stop());
  logger.info({ grpc: app.grpc.address, metrics: app.ops?.url, webhook: app.webhookUrl }, "wallet ready");
}

main().catch((error) => {
  process.stderr.write(
    `wallet failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
