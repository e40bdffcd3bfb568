import { Redis } from "ioredis";
import type { Logger } from "./logger";
import type { ReadinessCheck } from "./readiness";

export interface RedisClientOptions {
  /** redis://[:password@]host:port[/db] or rediss:// */
  url: string;
  /** Shown by CLIENT LIST. */
  connectionName?: string;
  /** Retries of one command while reconnecting (default 3): commands fail instead of hanging. */
  maxRetriesPerRequest?: number;
  /** Connect timeout in ms (default 5 000). */
  connectTimeoutMs?: number;
  logger?: Logger;
}

/** An ioredis client from a URL; reconnects with capped backoff; connection errors are logged. */
export function createRedisClient(options: RedisClientOptions): Redis {
  const client = new Redis(options.url, {
    maxRetriesPerRequest: options.maxRetriesPerRequest ?? 3,
    connectTimeout: options.connectTimeoutMs ?? 5_000,
    retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 2_000),
    ...(options.connectionName ? { connectionName: options.connectionName } : {}),
  });
  let lastError = "";
  client.on("error", (error: Error) => {
    // Reconnect loops repeat the same error: log each distinct one once.
    if (error.message !== lastError) options.logger?.warn({ err: error }, "redis connection error");
    lastError = error.message;
  });
  client.on("ready", () => {
    lastError = "";
  });
  return client;
}

/** Ready when the client is connected and answers PING. */
export function redisReadiness(client: Redis): ReadinessCheck {
  return async () => {
    if (client.status !== "ready") throw new Error(`redis connection is ${client.status}`);
    const reply = await client.ping();
    if (reply !== "PONG") throw new Error(`unexpected PING reply ${reply}`);
  };
}
