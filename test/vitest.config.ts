import { workspaceVitestConfig } from "../vitest.base.ts";

export default workspaceVitestConfig(import.meta.dirname, { test: { include: ["e2e/**/*.test.ts"] } });
