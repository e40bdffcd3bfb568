/**
 * One exchange per data directory: `<dataDir>/exchange.pid` names the process that runs on it. A
 * second `npm start` on the same directory while the first runs is refused (it would fight over the
 * database, the local chain's journal and the ports). A file left by a process that is gone (a
 * crash) is taken over — which is also what makes it safe to shut down a PostgreSQL that crashed
 * exchange left running on the directory (embedded-postgres.ts).
 */
import { existsSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { commandLineOf, isRunning } from "./processes.ts";

export class DataDirInUseError extends Error {}

export async function lockDataDir(dataDir: string): Promise<{ release(): Promise<void> }> {
  await mkdir(dataDir, { recursive: true });
  const file = join(dataDir, "exchange.pid");
  const holder = Number((await readFile(file, "utf8").catch(() => "")).trim());
  if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && (await isNodeProcess(holder))) {
    throw new DataDirInUseError(
      `another ExCraft (pid ${holder}) is running on ${dataDir}; stop it first or use --data-dir`,
    );
  }
  await writeFile(file, `${process.pid}\n`);
  return {
    async release() {
      const current = Number((await readFile(file, "utf8").catch(() => "")).trim());
      if (current === process.pid) await rm(file, { force: true });
    },
  };
}

/** Running and a Node process (a PID reused since by something else does not count). */
async function isNodeProcess(pid: number): Promise<boolean> {
  if (!(await isRunning(pid))) return false;
  const program = (await commandLineOf(pid))[0];
  // No /proc (not Linux): a live PID is taken as the exchange; with /proc, no command line (a kernel
  // thread) is not one.
  if (program === undefined) return !existsSync("/proc/self");
  return /^node/.test(program.slice(program.lastIndexOf("/") + 1));
}
