#!/usr/bin/env node
// Adds up the Vitest JSON reports in .test-results/ into one closing line, and fails when no
// test ran at all (an empty run must never look green).
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const dir = join(import.meta.dirname, "..", ".test-results");
if (!existsSync(dir)) {
  console.log("tests: 0 passed, 0 failed (no test report was written)");
  process.exit(1);
}
let passed = 0;
let failed = 0;
let skipped = 0;
for (const file of readdirSync(dir).filter((f) => f.endsWith(".json"))) {
  const report = JSON.parse(readFileSync(join(dir, file), "utf8"));
  passed += report.numPassedTests;
  failed += report.numFailedTests;
  skipped += report.numPendingTests + report.numTodoTests;
  console.log(
    `${file.replace(/\.json$/, "").padEnd(20)} ${report.numPassedTests} passed, ${report.numFailedTests} failed`,
  );
}
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
if (failed > 0 || passed === 0) process.exit(1);
