/** `npm run gas`: gas of claim, vote, stake, anchor (and friends) → table + bench/results/gas.json. */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CONTRACTS_DIR } from "./lib/build.ts";
import { formatGasTable, measureGas } from "./lib/gas.ts";

const rows = await measureGas((s) => console.error(`measured ${s}`));
console.log(formatGasTable(rows));
const out = join(CONTRACTS_DIR, "../bench/results/gas.json");
mkdirSync(join(out, ".."), { recursive: true });
writeFileSync(
  out,
  `${JSON.stringify({ generatedAt: new Date().toISOString(), evm: "EDR (in-process), cancun bytecode, solc 0.8.28 optimizer 200", rows }, null, 2)}\n`,
);
console.log(`written ${out}`);
const over = rows.filter((r) => r.target !== null && r.gasUsed > r.target);
if (over.length) {
  console.error(`over target: ${over.map((r) => r.action).join(", ")}`);
  process.exitCode = 1;
}
