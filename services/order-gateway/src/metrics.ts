/** The gateway's own instruments, registered in the platform kit's registry (re-used when present). */
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

export type GatewayMetrics = ReturnType<typeof createGatewayMetrics>;

export function createGatewayMetrics(registry: Registry) {
  const registers = [registry];
  const existing = <T>(name: string) => registry.getSingleMetric(name) as T | undefined;
  return {
    wsConnections:
      existing<Gauge>("gateway_ws_connections") ??
      new Gauge({
        name: "gateway_ws_connections",
        help: "open market-data WebSocket connections",
        registers,
      }),
    wsMessagesSent:
      existing<Counter>("gateway_ws_messages_sent_total") ??
      new Counter({
        name: "gateway_ws_messages_sent_total",
        help: "market-data WebSocket messages sent",
        registers,
      }),
    wsFlushSeconds:
      existing<Histogram>("gateway_ws_flush_seconds") ??
      new Histogram({
        name: "gateway_ws_flush_seconds",
        help: "time to write one event-loop turn's queued market-data frames to every WebSocket connection",
        buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
        registers,
      }),
    wsSlowConsumerDisconnects:
      existing<Counter>("gateway_ws_slow_consumer_disconnects_total") ??
      new Counter({
        name: "gateway_ws_slow_consumer_disconnects_total",
        help: "WebSocket connections closed because their send buffer exceeded the limit",
        registers,
      }),
    projectorEvents:
      existing<Counter<"topic" | "verdict">>("gateway_projector_events_total") ??
      new Counter({
        name: "gateway_projector_events_total",
        help: "engine events seen by the market-data projector, by verdict (apply, duplicate, stale, gap, malformed)",
        labelNames: ["topic", "verdict"],
        registers,
      }),
    rateLimited:
      existing<Counter<"status">>("gateway_rate_limited_total") ??
      new Counter({
        name: "gateway_rate_limited_total",
        help: "REST requests refused by the rate limiter (429 limit, 418 ban)",
        labelNames: ["status"],
        registers,
      }),
  };
}
