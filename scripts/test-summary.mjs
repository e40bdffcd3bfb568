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
const failures = [];
for (const file of readdirSync(dir).filter((f) => f.endsWith(".json"))) {
  const report = JSON.parse(readFileSync(join(dir, file), "utf8"));
  passed += report.numPassedTests;
  failed += report.numFailedTests;
  skipped += report.numPendingTests + report.numTodoTests;
  console.log(
    `${file.replace(/\.json$/, "").padEnd(20)} ${report.numPassedTests} passed, ${report.numFailedTests} failed`,
  );
  for (const suite of report.testResults ?? []) {
    for (const test of suite.assertionResults ?? []) {
      if (test.status !== "failed") continue;
      const firstLines = (test.failureMessages ?? []).join("\n").split("\n").slice(0, 6);
      failures.push(`FAILED ${suite.name.replace(`${dir}/`, "")} > ${test.fullName}`);
      for (const line of firstLines) failures.push(`    ${line}`);
    }
    if (suite.status === "failed" && (suite.assertionResults ?? []).length === 0) {
      failures.push(`FAILED ${suite.name}: ${(suite.message ?? "").split("\n").slice(0, 6).join("\n    ")}`);
    }
  }
}
// CI shows only the tail of the log, so the failing tests and the head of their errors are
// repeated here, right above the closing line.
for (const failure of failures) console.log(failure);
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
if (failed > 0 || passed === 0) process.exit(1);
