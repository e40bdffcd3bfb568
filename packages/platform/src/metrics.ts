import { Counter, collectDefaultMetrics, Histogram, Registry } from "prom-client";

/** go-grpc-prometheus's default handling-time buckets (Prometheus DefBuckets), in seconds. */
export const GRPC_HANDLING_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

type GrpcLabels = "grpc_service" | "grpc_method" | "grpc_type";

/** RED metrics of a gRPC server, named as in go-grpc-prometheus. */
export interface GrpcServerMetrics {
  started: Counter<GrpcLabels>;
  handled: Counter<GrpcLabels | "grpc_code">;
  handlingSeconds: Histogram<GrpcLabels>;
  msgReceived: Counter<GrpcLabels>;
  msgSent: Counter<GrpcLabels>;
}

type HttpLabels = "method" | "route" | "status_code";

/** RED metrics of an HTTP server; `route` is the route template, never the raw URL. */
export interface HttpServerMetrics {
  requests: Counter<HttpLabels>;
  durationSeconds: Histogram<HttpLabels>;
}

/** One process's metrics: its registry and the instruments the platform records. */
export interface Metrics {
  registry: Registry;
  grpc: GrpcServerMetrics;
  http: HttpServerMetrics;
}

export interface CreateMetricsOptions {
  /** Labels on every series, e.g. `{ service: "wallet" }`. */
  defaultLabels?: Record<string, string>;
  /** Process/runtime metrics from prom-client (default true). */
  defaultMetrics?: boolean;
  grpcBuckets?: number[];
  httpBuckets?: number[];
}

/** A fresh registry with default process metrics and the gRPC and HTTP RED instruments registered. */
export function createMetrics(options: CreateMetricsOptions = {}): Metrics {
  const registry = new Registry();
  if (options.defaultLabels) registry.setDefaultLabels(options.defaultLabels);
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const grpcLabels: GrpcLabels[] = ["grpc_service", "grpc_method", "grpc_type"];
  const grpc: GrpcServerMetrics = {
    started: new Counter({
      name: "grpc_server_started_total",
      help: "Total number of RPCs started on the server.",
      labelNames: grpcLabels,
      registers,
    }),
    handled: new Counter({
      name: "grpc_server_handled_total",
      help: "Total number of RPCs completed on the server, regardless of success or failure.",
      labelNames: [...grpcLabels, "grpc_code"],
      registers,
    }),
    handlingSeconds: new Histogram({
      name: "grpc_server_handling_seconds",
      help: "Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.",
      labelNames: grpcLabels,
      buckets: options.grpcBuckets ?? GRPC_HANDLING_BUCKETS,
      registers,
    }),
    msgReceived: new Counter({
      name: "grpc_server_msg_received_total",
      help: "Total number of RPC stream messages received on the server.",
      labelNames: grpcLabels,
      registers,
    }),
    msgSent: new Counter({
      name: "grpc_server_msg_sent_total",
      help: "Total number of gRPC stream messages sent by the server.",
      labelNames: grpcLabels,
      registers,
    }),
  };
  const httpLabels: HttpLabels[] = ["method", "route", "status_code"];
  const http: HttpServerMetrics = {
    requests: new Counter({
      name: "http_requests_total",
      help: "Total number of HTTP requests answered.",
      labelNames: httpLabels,
      registers,
    }),
    durationSeconds: new Histogram({
      name: "http_request_duration_seconds",
      help: "Time from receiving an HTTP request to finishing its response, in seconds.",
      labelNames: httpLabels,
      buckets: options.httpBuckets ?? GRPC_HANDLING_BUCKETS,
      registers,
    }),
  };
  return { registry, grpc, http };
}
