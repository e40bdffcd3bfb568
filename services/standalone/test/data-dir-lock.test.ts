/** One exchange per data directory: a live holder refuses a second start, a dead one is taken over. */
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DataDirInUseError, lockDataDir } from "../src/data-dir-lock.ts";

describe("data directory lock", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "excraft-lock-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("refuses while another Node process holds it, and takes it over once that process is gone", async () => {
    const holder = spawn(process.execPath, ["-e", "setTimeout(() => {}, 120000)"], { stdio: "ignore" });
    await new Promise((resolve) => holder.once("spawn", resolve));
    await writeFile(join(dir, "exchange.pid"), `${holder.pid}\n`);
    await expect(lockDataDir(dir)).rejects.toBeInstanceOf(DataDirInUseError);
    expect(await readFile(join(dir, "exchange.pid"), "utf8")).toBe(`${holder.pid}\n`); // untouched

    holder.kill("SIGKILL");
    await new Promise((resolve) => holder.once("exit", resolve));
    const lock = await lockDataDir(dir);
    expect(await readFile(join(dir, "exchange.pid"), "utf8")).toBe(`${process.pid}\n`);
    await lock.release();
    await expect(readFile(join(dir, "exchange.pid"), "utf8")).rejects.toThrow();
  });

  it("a PID that is no Node process (reused since) does not count", async () => {
    const shell = spawn("sleep", ["120"], { stdio: "ignore" });
    await new Promise((resolve) => shell.once("spawn", resolve));
    try {
      await writeFile(join(dir, "exchange.pid"), `${shell.pid}\n`);
      const lock = await lockDataDir(dir);
      await lock.release();
    } finally {
      shell.kill("SIGKILL");
    }
  });
});
