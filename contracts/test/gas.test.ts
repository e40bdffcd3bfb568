import { describe, expect, it } from "vitest";
import { formatGasTable, measureGas } from "../scripts/lib/gas.ts";

describe("gas targets (claim <= 100k, vote <= 90k, anchor <= 150k)", () => {
  it("main user actions stay under their targets", async () => {
    const rows = await measureGas();
    console.log(formatGasTable(rows));
    for (const action of ["claim", "claim (repeat)", "vote", "vote by signature", "anchor"]) {
      const row = rows.find((r) => r.action === action);
      expect(row, action).toBeDefined();
      expect(row!.gasUsed, action).toBeLessThanOrEqual(row!.target!);
      expect(row!.gasUsed, action).toBeGreaterThan(21_000);
    }
  });
});
