/**
 * What /proc (Linux) says about another process, for taking over after a crashed exchange: whether
 * it still runs, and its command line. Elsewhere (no /proc) `isRunning` answers from signal 0 and
 * `commandLineOf` is empty.
 */
import { readFile } from "node:fs/promises";

/** Alive and not a zombie (a reparented process is reaped by whoever is PID 1, maybe late). */
export async function isRunning(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => undefined);
  if (stat === undefined) {
    try {
      process.kill(pid, 0);
      return true;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === "EPERM";
    }
  }
  return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
}

/** The process's arguments (argv[0] first); [] when it is gone or /proc is not there. */
export async function commandLineOf(pid: number): Promise<string[]> {
  const text = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
  return text === "" ? [] : text.replace(/\0$/, "").split("\0");
}
