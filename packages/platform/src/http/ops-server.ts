import Fastify, { type FastifyInstance } from "fastify";
import type { Logger } from "../logger";
import type { Metrics } from "../metrics";
import type { Readiness } from "../readiness";
import { httpMetricsPlugin } from "./route-metrics";

export interface OpsServerOptions {
  host?: string;
  /** 0 picks a free port. */
  port: number;
  metrics: Metrics;
  readiness: Readiness;
  logger?: Logger;
}

/** The operations endpoint of a process: Prometheus scrape, liveness and readiness. */
export interface OpsServer {
  readonly app: FastifyInstance;
  readonly port: number;
  /** e.g. "http://127.0.0.1:9464" */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Starts the HTTP server with `GET /metrics` (Prometheus text format), `GET /healthz` (liveness: the
 * event loop answers) and `GET /readyz` (200 when every readiness check passes and the process is
 * not shutting down, else 503, with the per-check report as JSON).
 */
export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const app = Fastify({ logger: false });
  await app.register(httpMetricsPlugin, { metrics: options.metrics.http, excludeRoutes: ["/metrics"] });
  const { registry } = options.metrics;
  app.get("/metrics", async (_request, reply) => {
    reply.header("content-type", registry.contentType);
    return registry.metrics();
  });
  app.get("/healthz", async () => ({ status: "ok" }));
  app.get("/readyz", async (_request, reply) => {
    const report = await options.readiness.evaluate();
    reply.code(report.ready ? 200 : 503);
    return { status: report.ready ? "ready" : "not ready", ...report };
  });
  const host = options.host ?? "127.0.0.1";
  await app.listen({ host, port: options.port });
  const address = app.server.address();
  const port = typeof address === "object" && address !== null ? address.port : options.port;
  const shownHost =
    host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host.includes(":") ? `[${host}]` : host;
  const url = `http://${shownHost}:${port}`;
  options.logger?.info({ url }, "ops HTTP server listening (/metrics, /healthz, /readyz)");
  return { app, port, url, close: () => app.close() };
}
