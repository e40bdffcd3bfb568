import {
  type ChannelOptions,
  Server,
  ServerCredentials,
  type ServerInterceptor,
  type ServerWritableStream,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import type { PackageDefinition } from "@grpc/proto-loader";
import { HealthImplementation, type ServingStatus } from "grpc-health-check";
import type { Logger } from "../logger";
import type { Metrics } from "../metrics";
import type { Readiness } from "../readiness";
import type { Shutdown } from "../shutdown";
import { wrapImplementation } from "./handlers";
import { createKitInterceptor, splitMethodPath } from "./interceptors";
import { createReflection, descriptorsOf, findProtoDir, loadReflectionDescriptors } from "./reflection";

export type { ServingStatus } from "grpc-health-check";

export const HEALTH_SERVICE = "grpc.health.v1.Health";
const HEALTH_WATCH_PATH = `/${HEALTH_SERVICE}/Watch`;

/** A service to expose: a grpc-js service definition (ts-proto's `XxxService` or proto-loader's) and its handlers. */
export interface GrpcServiceRegistration {
  definition: ServiceDefinition;
  // biome-ignore lint/suspicious/noExplicitAny: handler types differ per service; grpc-js checks them at addService
  implementation: UntypedServiceImplementation | Record<string, any>;
}

export interface CreateGrpcServerOptions {
  /** Name of the process, for logs. */
  name: string;
  /** Default "0.0.0.0". */
  host?: string;
  /** 0 picks a free port (see `GrpcServer.port`). */
  port: number;
  services: GrpcServiceRegistration[];
  logger: Logger;
  metrics?: Metrics;
  /** Longest a call may run without a shorter client deadline, in ms (default 30 000; Infinity: no limit). */
  maxHandlingMs?: number;
  /** Server reflection (default true). `protoDir` overrides where `excraft/v1/*.proto` are found. */
  reflection?: boolean | { protoDir?: string; extraDescriptors?: PackageDefinition };
  /** Interceptors run after the platform's own (they see the request context). */
  interceptors?: ServerInterceptor[];
  channelOptions?: ChannelOptions;
  credentials?: ServerCredentials;
  /** Drain time on shutdown before in-flight calls are cut, in ms (default 10 000). */
  drainTimeoutMs?: number;
  /** Registers the server with a shutdown controller: NOT_SERVING at once, then drained as a closer. */
  shutdown?: Shutdown;
  /**
   * Makes the overall health ("") follow these readiness checks, evaluated every
   * `readinessIntervalMs` (default 1 000), so gRPC probes see what `/readyz` sees.
   */
  readiness?: Readiness;
  readinessIntervalMs?: number;
}

export interface DrainResult {
  /** True when calls were still running at the timeout and were cut. */
  forced: boolean;
  ms: number;
}

/** A started gRPC server with health, reflection and the platform interceptor. */
export interface GrpcServer {
  readonly server: Server;
  readonly host: string;
  readonly port: number;
  /** "host:port" to dial. */
  readonly address: string;
  /** Fully-qualified names of the application services. */
  readonly serviceNames: readonly string[];
  readonly health: HealthImplementation;
  /** Sets the health of one service, or of the whole server with `service` "" (the default). */
  setStatus(status: ServingStatus, service?: string): void;
  /** Health NOT_SERVING everywhere and open health watches ended. Idempotent. */
  markNotServing(): void;
  /** Marks NOT_SERVING, stops accepting calls, waits for in-flight ones up to `timeoutMs`, then cuts them. */
  drain(timeoutMs?: number): Promise<DrainResult>;
}

function serviceNameOf(definition: ServiceDefinition): string {
  const first = Object.values(definition)[0];
  if (!first) throw new Error("service definition has no methods");
  return splitMethodPath(first.path)[0];
}

function bindAddress(host: string, port: number): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Creates, binds and starts a gRPC server: the given services (async handlers may throw `GrpcError`),
 * `grpc.health.v1.Health` (overall "" and per service, SERVING once bound), server reflection, and the
 * platform interceptor (request id, deadlines, RED metrics, call logging).
 */
export async function createGrpcServer(options: CreateGrpcServerOptions): Promise<GrpcServer> {
  const { logger } = options;
  const host = options.host ?? "0.0.0.0";
  const maxHandlingMs = options.maxHandlingMs ?? 30_000;
  const kit = createKitInterceptor({
    logger,
    ...(options.metrics ? { metrics: options.metrics.grpc } : {}),
    ...(Number.isFinite(maxHandlingMs) ? { maxHandlingMs } : {}),
    unlimitedMethods: [HEALTH_WATCH_PATH],
  });
  const server = new Server({
    ...options.channelOptions,
    interceptors: [kit, ...(options.interceptors ?? [])],
  });

  const serviceNames: string[] = [];
  let descriptors: PackageDefinition = {};
  for (const { definition, implementation } of options.services) {
    const name = serviceNameOf(definition);
    serviceNames.push(name);
    server.addService(
      definition,
      wrapImplementation(definition, implementation as UntypedServiceImplementation, logger),
    );
    descriptors = { ...descriptors, ...descriptorsOf(name, definition) };
  }

  const health = new HealthImplementation({ "": "NOT_SERVING" });
  for (const name of serviceNames) health.setStatus(name, "NOT_SERVING");
  const watches = new Set<ServerWritableStream<unknown, unknown>>();
  let notServing = false;
  health.addToServer({
    addService(definition, implementation) {
      const watch = implementation.watch as (call: ServerWritableStream<unknown, unknown>) => void;
      server.addService(definition as ServiceDefinition, {
        ...implementation,
        watch(call: ServerWritableStream<unknown, unknown>) {
          watch(call);
          if (notServing) {
            call.end();
            return;
          }
          watches.add(call);
          call.on("cancelled", () => watches.delete(call));
          call.on("finish", () => watches.delete(call));
        },
      });
    },
  });

  const reflectionOption = options.reflection ?? true;
  if (reflectionOption !== false) {
    const protoDir =
      (typeof reflectionOption === "object" ? reflectionOption.protoDir : undefined) ?? findProtoDir();
    if (!protoDir) logger.warn("proto directory not found: reflection covers only proto-loader services");
    const extra = typeof reflectionOption === "object" ? reflectionOption.extraDescriptors : undefined;
    const all = { ...loadReflectionDescriptors(protoDir), ...descriptors, ...extra };
    const { reflection, missing } = createReflection([...serviceNames, HEALTH_SERVICE], all);
    if (missing.length > 0) logger.warn({ services: missing }, "no proto descriptor for reflection");
    reflection.addToServer(server);
  }

  const credentials = options.credentials ?? ServerCredentials.createInsecure();
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(bindAddress(host, options.port), credentials, (error, bound) =>
      error ? reject(error) : resolve(bound),
    );
  });
  const dialHost = host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "::1" : host;
  const address = bindAddress(dialHost, port);

  const setStatus = (status: ServingStatus, service = "") => health.setStatus(service, status);
  for (const name of ["", ...serviceNames]) setStatus("SERVING", name);
  logger.info({ name: options.name, address, services: serviceNames }, "gRPC server listening");

  const markNotServing = () => {
    if (notServing) return;
    notServing = true;
    for (const name of ["", ...serviceNames]) setStatus("NOT_SERVING", name);
    // Watchers have the NOT_SERVING message queued; ending their streams lets the drain finish.
    for (const call of watches) call.end();
    watches.clear();
  };

  let readinessTimer: NodeJS.Timeout | undefined;
  if (options.readiness) {
    const readiness = options.readiness;
    const follow = async () => {
      const report = await readiness.evaluate();
      if (!notServing) setStatus(report.ready ? "SERVING" : "NOT_SERVING");
    };
    await follow();
    readinessTimer = setInterval(() => {
      follow().catch((error) => logger.warn({ err: error }, "readiness evaluation failed"));
    }, options.readinessIntervalMs ?? 1_000);
    readinessTimer.unref();
  }

  let draining: Promise<DrainResult> | undefined;
  const drain = (timeoutMs = options.drainTimeoutMs ?? 10_000): Promise<DrainResult> => {
    if (draining) return draining;
    clearInterval(readinessTimer);
    const started = performance.now();
    markNotServing();
    logger.info({ timeoutMs }, "gRPC server draining: no new calls, waiting for in-flight ones");
    draining = new Promise<DrainResult>((resolve) => {
      let done = false;
      const settle = (forced: boolean) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        const result = { forced, ms: Math.round(performance.now() - started) };
        if (forced) logger.warn(result, "gRPC drain timed out: remaining calls cut");
        else logger.info(result, "gRPC server drained");
        resolve(result);
      };
      const timer = setTimeout(() => {
        server.forceShutdown();
        settle(true);
      }, timeoutMs);
      server.tryShutdown(() => settle(false));
    });
    return draining;
  };

  if (options.shutdown) {
    options.shutdown.onStart(markNotServing);
    options.shutdown.register(`grpc server ${options.name}`, async () => {
      await drain();
    });
  }

  return { server, host, port, address, serviceNames, health, setStatus, markNotServing, drain };
}
