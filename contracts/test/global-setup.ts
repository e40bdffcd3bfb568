import { ensureArtifacts } from "../scripts/lib/build.ts";

/** Compile once (or reuse the cache) before the test files run in parallel. */
export default function setup(): void {
  ensureArtifacts();
}
