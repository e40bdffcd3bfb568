/**
 * The market-data half of the order gateway as one mountable unit: a fastify app with the
 * Binance v3 public REST endpoints, the WebSocket market streams on the same port, and the
 * market-data projector feeding both. The order-entry half will add sibling fastify plugins
 * (orders, account, user data streams) to the same app.
 */
import type { EventLog } from "@excraft/eventlog";
import { httpMetricsPlugin, type Logger, type Metrics } from "@excraft/platform";
import type { MatchingEngineClient } from "@excraft/proto";
import Fastify, { type FastifyInstance } from "fastify";
import type pg from "pg";
import { grpcOrderBookSource, type OrderBookSource } from "./engine/order-book-source.ts";
import { registerBinanceErrors } from "./http/error-handler.ts";
import { marketRoutes } from "./http/market-routes.ts";
import { type RateLimitOptions, registerRateLimit } from "./http/rate-limit.ts";
import { MarketRegistry } from "./markets.ts";
import { createGatewayMetrics } from "./metrics.ts";
import { MarketDataProjector } from "./projector/projector.ts";
import { MarketDataStore } from "./projector/store.ts";
import { StreamHub } from "./ws/hub.ts";
import { MarketStreams } from "./ws/market-streams.ts";
import { MarketStreamServer } from "./ws/server.ts";

export interface MarketDataGatewayOptions {
  eventLog: EventLog;
  /** PostgreSQL of the gateway (its own `md_*` tables). */
  pool: pg.Pool;
  /** The matching engine's gRPC read API: "host:port", a client, or any OrderBookSource. */
  engine: string | MatchingEngineClient | OrderBookSource;
  logger: Logger;
  /** The process's platform metrics (registry + HTTP instruments). */
  metrics: Metrics;
  host?: string;
  /** 0 = any free port. */
  port?: number;
  /** fastify's trustProxy: set behind a load balancer so rate limits key on the client's IP. */
  trustProxy?: boolean | string | string[];
  /** Consumer group of the projector (default "order-gateway.market-data"). */
  groupId?: string;
  rateLimit?: RateLimitOptions;
  ws?: {
    /** Send-buffer limit per connection before it is cut as a slow consumer (default 4 MiB). */
    maxBufferedBytes?: number;
    maxMessagesPerSecond?: number;
    pingIntervalMs?: number;
    pongTimeoutMs?: number;
  };
  now?: () => number;
}

export interface MarketDataGateway {
  app: FastifyInstance;
  markets: MarketRegistry;
  projector: MarketDataProjector;
  hub: StreamHub;
  /** The WebSocket market-stream server (other endpoints join its upgrade routing). */
  wsServer: MarketStreamServer;
  /** Loads markets, starts the projector and listens; resolves with the bound address. */
  start(): Promise<{ url: string; wsUrl: string; port: number }>;
  /** Closes WebSockets, stops the projector and the HTTP server. Idempotent. */
  stop(): Promise<void>;
}

function isSource(engine: MarketDataGatewayOptions["engine"]): engine is OrderBookSource {
  return (
    typeof engine === "object" && "listMarkets" in engine && "close" in engine && !("getChannel" in engine)
  );
}

export function createMarketDataGateway(options: MarketDataGatewayOptions): MarketDataGateway {
  const { logger } = options;
  const now = options.now ?? Date.now;
  const gatewayMetrics = createGatewayMetrics(options.metrics.registry);
  const books = isSource(options.engine) ? options.engine : grpcOrderBookSource({ engine: options.engine });
  const markets = new MarketRegistry();
  const store = new MarketDataStore(options.pool);
  const projector = new MarketDataProjector({
    eventLog: options.eventLog,
    store,
    markets,
    logger,
    metrics: gatewayMetrics,
    groupId: options.groupId,
    now,
  });
  const hub = new StreamHub({
    maxBufferedBytes: options.ws?.maxBufferedBytes ?? 4 * 1024 * 1024,
    metrics: gatewayMetrics,
  });
  const streams = new MarketStreams({ hub, markets, books, projector, logger, now });
  projector.addListener(streams);
  const wsServer = new MarketStreamServer({
    hub,
    logger,
    maxMessagesPerSecond: options.ws?.maxMessagesPerSecond,
    pingIntervalMs: options.ws?.pingIntervalMs,
    pongTimeoutMs: options.ws?.pongTimeoutMs,
  });

  const app = Fastify({ logger: false, return503OnClosing: true, trustProxy: options.trustProxy ?? false });
  app.register(httpMetricsPlugin, { metrics: options.metrics.http });
  registerBinanceErrors(app);
  registerRateLimit(app, gatewayMetrics, { now, ...options.rateLimit });
  app.register(marketRoutes, {
    prefix: "/api/v3",
    markets,
    books,
    store,
    projector,
    now,
    weightPerMinute: options.rateLimit?.weightPerMinute ?? 6_000,
  });

  let started = false;
  let stopped = false;
  return {
    app,
    markets,
    projector,
    hub,
    wsServer,
    async start() {
      try {
        for (const spec of await books.listMarkets()) markets.upsert(spec);
      } catch (error) {
        logger.warn({ err: error }, "engine ListMarkets failed; markets will come from MarketChanged events");
      }
      await projector.start();
      streams.start();
      wsServer.attach(app.server);
      await app.listen({ host: options.host ?? "127.0.0.1", port: options.port ?? 0 });
      started = true;
      const address = app.server.address();
      const port = typeof address === "object" && address ? address.port : (options.port ?? 0);
      const host = options.host ?? "127.0.0.1";
      logger.info({ port }, "market-data gateway listening");
      return { url: `http://${host}:${port}`, wsUrl: `ws://${host}:${port}`, port };
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      streams.stop();
      wsServer.close();
      await projector.stop();
      if (started) await app.close();
      books.close();
    },
  };
}
