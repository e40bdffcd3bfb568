/**
 * The start of every service process, in one call: validated configuration, logger, metrics,
 * readiness, signal handling and the ops HTTP server (/metrics, /healthz, /readyz), wired so that
 * SIGTERM marks the process not-ready first and closes the ops server last.
 */
import { type ConfigOf, type ConfigSchema, loadConfig, type platformConfigSchema } from "./config";
import { type OpsServer, startOpsServer } from "./http/ops-server";
import { createLogger, type Logger } from "./logger";
import { createMetrics, type Metrics } from "./metrics";
import { createPostgresPool, postgresReadiness } from "./postgres";
import { Readiness } from "./readiness";
import { createShutdown, type Shutdown } from "./shutdown";

export interface ServiceRuntime<S extends ConfigSchema> {
  config: ConfigOf<S>;
  logger: Logger;
  metrics: Metrics;
  readiness: Readiness;
  shutdown: Shutdown;
  ops: OpsServer;
  /** A PostgreSQL pool on `DATABASE_URL`, with a readiness check and a closer (when the schema has it). */
  postgres(): ReturnType<typeof createPostgresPool>;
}

export async function startServiceRuntime<S extends typeof platformConfigSchema & ConfigSchema>(
  name: string,
  schema: S,
  source: NodeJS.ProcessEnv = process.env,
): Promise<ServiceRuntime<S>> {
  const config = loadConfig(schema, source);
  const platform = config as unknown as ConfigOf<typeof platformConfigSchema>;
  const logger = createLogger({ name, level: platform.LOG_LEVEL });
  const metrics = createMetrics({ defaultLabels: { service: name } });
  const readiness = new Readiness();
  const shutdown = createShutdown({ logger, timeoutMs: platform.SHUTDOWN_TIMEOUT_MS + 5_000 }).listen();
  shutdown.onStart(() => readiness.markShuttingDown());
  const ops = await startOpsServer({
    host: platform.METRICS_HOST,
    port: platform.METRICS_PORT,
    metrics,
    readiness,
    logger,
  });
  shutdown.register("ops server", () => ops.close()); // registered first: closed last
  let pool: ReturnType<typeof createPostgresPool> | undefined;
  return {
    config,
    logger,
    metrics,
    readiness,
    shutdown,
    ops,
    postgres() {
      const url = (config as Record<string, unknown>).DATABASE_URL;
      if (typeof url !== "string") throw new Error(`${name}: the configuration has no DATABASE_URL`);
      if (!pool) {
        pool = createPostgresPool({ url, logger, applicationName: name });
        readiness.register("postgres", postgresReadiness(pool));
        const created = pool;
        shutdown.register("postgres", () => created.end());
      }
      return pool;
    },
  };
}
