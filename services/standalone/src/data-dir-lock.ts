/**
 * One exchange per data directory: `<dataDir>/exchange.pid` names the process that runs on it. A
 * second `npm start` on the same directory while the first runs is refused (it would fight over the
 * database, the local chain's journal and the ports). A file left by a process that is gone (a
 * crash) is taken over — which is also what makes it safe to shut down a PostgreSQL that crashed
 * exchange left running on the directory (embedded-postgres.ts).
 */
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

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

/** Alive, not a zombie, and a Node process (a PID reused since by something else does not count). */
async function isNodeProcess(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => undefined);
  if (stat === undefined) {
    // No /proc (not Linux): signal 0 tells whether the process exists.
    try {
      process.kill(pid, 0);
      return true;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === "EPERM";
    }
  }
  if (stat.slice(stat.lastIndexOf(")") + 2)[0] === "Z") return false;
  const commandLine = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
  const program = commandLine.split("\0")[0] ?? "";
  return /^node/.test(program.slice(program.lastIndexOf("/") + 1));
}
