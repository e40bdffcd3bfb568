/** The gateway's own instruments, registered in the platform kit's registry (re-used when present). */
import { Counter, Gauge, type Registry } from "prom-client";

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
