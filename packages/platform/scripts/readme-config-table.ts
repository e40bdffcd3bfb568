/**
 * Rewrites the configuration table of packages/platform/README.md from `platformConfigSchema`.
 * Run: npx tsx packages/platform/scripts/readme-config-table.ts
 */
import { readFileSync, writeFileSync } from "node:fs";
import { configMarkdownTable, platformConfigSchema } from "../src/index";

const path = new URL("../README.md", import.meta.url);
const lines = readFileSync(path, "utf8").split("\n");
const start = lines.findIndex((line) => /^\| Variable\s+\| Default\s+\| Meaning/.test(line));
if (start < 0)
  throw new Error(
    "README.md has no configuration table (a line starting with '| Variable | Default | Meaning')",
  );
let end = start;
while (end < lines.length && lines[end]!.startsWith("|")) end++;
lines.splice(start, end - start, ...configMarkdownTable(platformConfigSchema).split("\n"));
writeFileSync(path, lines.join("\n"));
console.log(
  `README.md: configuration table rewritten (${Object.keys(platformConfigSchema).length} variables)`,
);
