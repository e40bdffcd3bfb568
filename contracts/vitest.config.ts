import { workspaceVitestConfig } from "../vitest.base.ts";

export default workspaceVitestConfig(import.meta.dirname, {
  test: {
    globalSetup: ["test/global-setup.ts"],
    pool: "forks",
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
