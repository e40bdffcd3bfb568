import {
  type EventLog,
  fileDurability,
  openEmbeddedEventLog,
  openKafkaEventLog,
  postgresDurability,
} from "@excraft/eventlog";
import { createLogger, createShutdown, loadConfig } from "@excraft/platform";
import { JsonRpcProvider } from "ethers";
import { startWalletApp, type WalletAppOptions } from "./app";
import { LocalKeyStore } from "./chain";
import { walletConfigSchema } from "./config";
import type { AssetInfo, MarketConfig } from "./state";

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
    feeChangeNoticeMs: config.FEE_CHANGE_NOTICE_MS,
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
