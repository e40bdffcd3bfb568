import { workspaceVitestConfig } from "../../vitest.base.ts";

export default workspaceVitestConfig(import.meta.dirname);
