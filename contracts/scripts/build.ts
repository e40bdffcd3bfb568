/** `npm run build`: compile (cached by source hash) and regenerate the typed bindings in packages/chain. */
import { writeBindings } from "./lib/bindings.ts";
import { CONTRACT_NAMES, ensureArtifacts } from "./lib/build.ts";

const artifacts = ensureArtifacts();
writeBindings(artifacts);
for (const n of CONTRACT_NAMES) {
  console.log(`${n.padEnd(18)} ${((artifacts[n].bytecode.length - 2) / 2).toString().padStart(6)} bytes`);
}
console.log("bindings written to packages/chain/src/generated");
