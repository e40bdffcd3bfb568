import type { FastifyPluginCallback } from "fastify";
import type { HttpServerMetrics } from "../metrics";

export interface HttpMetricsPluginOptions {
  metrics: HttpServerMetrics;
  /** Route templates not to record (e.g. "/metrics"). */
  excludeRoutes?: string[];
}

/** Route label for requests that matched no route: keeps label cardinality bounded. */
export const UNMATCHED_ROUTE = "unmatched";

const plugin: FastifyPluginCallback<HttpMetricsPluginOptions> = (app, options, done) => {
  const excluded = new Set(options.excludeRoutes ?? []);
  const { requests, durationSeconds } = options.metrics;
  app.addHook("onResponse", (request, reply, next) => {
    const route = request.routeOptions.url ?? UNMATCHED_ROUTE;
    if (!excluded.has(route)) {
      const labels = { method: request.method, route, status_code: String(reply.statusCode) };
      requests.inc(labels);
      durationSeconds.observe(labels, reply.elapsedTime / 1000);
    }
    next();
  });
  done();
};

// Same effect as wrapping in fastify-plugin: the hook applies to the scope that registers the plugin.
(plugin as unknown as Record<symbol, unknown>)[Symbol.for("skip-override")] = true;
(plugin as unknown as Record<symbol, unknown>)[Symbol.for("fastify.display-name")] = "excraft-http-metrics";

/**
 * Fastify plugin recording `http_requests_total{method,route,status_code}` and
 * `http_request_duration_seconds` for every response; `route` is the route template (`/orders/:id`).
 */
export const httpMetricsPlugin = plugin;
