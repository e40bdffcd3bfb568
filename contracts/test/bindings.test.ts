import * as chain from "@excraft/chain";
import { describe, expect, it } from "vitest";
import { CONTRACT_NAMES } from "../scripts/lib/build.ts";
import { compiledArtifacts } from "../scripts/lib/fixture.ts";

describe("generated bindings in packages/chain", () => {
  it("match the compiled contracts (run `npm run build -w @excraft/contracts` when this fails)", () => {
    const compiled = compiledArtifacts();
    const gen = chain as unknown as Record<string, unknown>;
    for (const name of CONTRACT_NAMES) {
      expect(gen[`${name}Abi`], `${name} ABI`).toEqual(compiled[name].abi);
      expect(gen[`${name}Bytecode`], `${name} bytecode`).toBe(compiled[name].bytecode);
    }
  });
});
