#!/usr/bin/env tsx
/**
 * Writes the README's per-service configuration tables from the services' config schemas (the
 * same objects the services validate their environment with), between the markers
 * `<!-- config:begin -->` and `<!-- config:end -->`. `--check` fails when the README is stale.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { configMarkdownTable, platformConfigSchema } from "@excraft/platform";
import { engineConfigSchema } from "../services/matching-engine/src/config.ts";
import { gatewayConfigSchema } from "../services/order-gateway/src/config.ts";
import { walletConfigSchema } from "../services/wallet/src/config.ts";

const sections: [string, Record<string, unknown>][] = [
  ["Every service (platform kit)", platformConfigSchema],
  ["matching-engine (`services/matching-engine/src/main.ts`)", engineConfigSchema],
  ["wallet (`services/wallet/src/main.ts`)", walletConfigSchema],
  ["order-gateway (`services/order-gateway/src/main.ts`)", gatewayConfigSchema],
];
const platformKeys = new Set(Object.keys(platformConfigSchema));
const body = sections
  .map(([title, schema], i) => {
    // Services repeat the platform variables; list only their own.
    const own =
      i === 0 ? schema : Object.fromEntries(Object.entries(schema).filter(([k]) => !platformKeys.has(k)));
    return `#### ${title}\n\n${configMarkdownTable(own as typeof platformConfigSchema)}`;
  })
  .join("\n\n");

const readme = join(import.meta.dirname, "..", "README.md");
const text = readFileSync(readme, "utf8");
const begin = "<!-- config:begin -->";
const end = "<!-- config:end -->";
const start = text.indexOf(begin);
const stop = text.indexOf(end);
if (start < 0 || stop < start) throw new Error(`README.md lacks the ${begin} … ${end} markers`);
const next = `${text.slice(0, start + begin.length)}\n${body}\n${text.slice(stop)}`;
if (process.argv.includes("--check")) {
  if (next !== text) {
    console.error("README.md configuration tables are stale: run `npm run docs:config`");
    process.exit(1);
  }
  console.log("README.md configuration tables are up to date");
} else {
  writeFileSync(readme, next);
  console.log("README.md configuration tables written");
}
