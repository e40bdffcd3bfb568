import { basename, join } from "node:path";
import { defineConfig, mergeConfig, type ViteUserConfig } from "vitest/config";

/**
 * The Vitest settings every workspace shares. Each run also writes a JSON report to
 * `.test-results/<workspace>.json`, which `scripts/test-summary.mjs` adds up into one
 * "N passed, N failed" line at the end of `npm run test:ci`.
 */
export function workspaceVitestConfig(workspaceDir: string, overrides: ViteUserConfig = {}): ViteUserConfig {
  const workspace = basename(workspaceDir);
  return mergeConfig(
    defineConfig({
      test: {
        include: ["test/**/*.test.ts"],
        testTimeout: 30_000,
        hookTimeout: 120_000,
        reporters: [
          "default",
          ["json", { outputFile: join(import.meta.dirname, ".test-results", `${workspace}.json`) }],
        ],
      },
    }),
    overrides,
  );
}
