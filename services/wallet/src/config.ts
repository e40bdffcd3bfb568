import { env, platformConfigSchema } from "@excraft/platform";

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
  FEE_CHANGE_NOTICE_MS: env.int({
    description:
      "Least time (ms) between making a fee change and its taking effect; keep it above the gateway's fee cache TTL",
    default: 10_000,
    min: 0,
  }),
};
