#!/usr/bin/env node
// Runs every workspace's tests through turbo (one at a time: the suites start real databases and
// brokers, and these machines have 2 cores), then prints one summary line over all of them.
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dirname, "..");
rmSync(join(root, ".test-results"), { recursive: true, force: true });
const turbo = spawnSync(
  "npx",
  ["turbo", "run", "test", "--concurrency=1", "--continue", ...process.argv.slice(2)],
  {
    cwd: root,
    stdio: "inherit",
    env: { ...process.env, TURBO_TELEMETRY_DISABLED: "1", FORCE_COLOR: process.env.FORCE_COLOR ?? "0" },
  },
);
const summary = spawnSync(process.execPath, [join(root, "scripts/test-summary.mjs")], { stdio: "inherit" });
process.exit(turbo.status !== 0 ? (turbo.status ?? 1) : (summary.status ?? 1));
