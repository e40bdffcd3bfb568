/** Environment of the order-gateway process (REST + WebSocket + the MarketMaker gRPC session). */
import { env, platformConfigSchema } from "@excraft/platform";

export const gatewayConfigSchema = {
  ...platformConfigSchema,
  DATABASE_URL: env.url({
    description: "PostgreSQL of the gateway (API keys, order projection, market data)",
  }),
  KAFKA_BROKERS: env.string({ description: "Comma-separated Kafka bootstrap brokers" }),
  HTTP_HOST: env.string({ description: "Address of the REST + WebSocket server", default: "0.0.0.0" }),
  HTTP_PORT: env.port({ description: "Port of the REST + WebSocket server", default: 8080, allowZero: true }),
  ENGINE_GRPC_ADDRESS: env.string({ description: "host:port of the MatchingEngine gRPC API" }),
  WALLET_GRPC_ADDRESS: env.string({ description: "host:port of the Wallet gRPC API" }),
  DEPOSIT_ADDRESS: env.optional(
    env.string({
      description:
        "The exchange's hot wallet (the wallet's chain key), answered by GET /sapi/v1/capital/deposit/address (unset: -5011)",
      pattern: /^0x[0-9a-fA-F]{40}$/,
    }),
  ),
  REDIS_URL: env.optional(
    env.url({ description: "Redis shared by gateway replicas for rate limits (unset: in-process store)" }),
  ),
  API_KEY_MASTER_KEY: env.string({
    description: "AES-256-GCM key for API secrets at rest (64 hex chars or base64 of 32 bytes)",
    secret: true,
  }),
  GATEWAY_ADMIN_TOKEN: env.optional(
    env.string({
      description: "Bearer token of the /v1 API-key admin routes (unset: not mounted)",
      secret: true,
    }),
  ),
  GATEWAY_GROUP_ID: env.string({
    description: "Consumer-group prefix of this replica (each replica needs its own)",
    default: "order-gateway",
  }),
};
