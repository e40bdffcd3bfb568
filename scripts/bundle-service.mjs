#!/usr/bin/env node
import { join } from "node:path";
// Bundles a service's entry point (TypeScript, with the workspace packages it imports) into one
// ESM file under dist/ for its container image. Third-party code
// stays external and is installed in the image with `npm ci --omit=dev`.
import { build } from "esbuild";

const [entry = "src/main.ts"] = process.argv.slice(2);
// Workspace packages (@excraft/*) are TypeScript sources: bundle them. Every third-party package
// stays external (many find their own files at run time: protos, binaries, workers).
const thirdPartyExternal = {
  name: "third-party-external",
  setup(builder) {
    builder.onResolve({ filter: /^[^./]/ }, (args) =>
      args.path.startsWith("@excraft/") || args.path.startsWith("node:")
        ? undefined
        : { path: args.path, external: true },
    );
  },
};
const result = await build({
  entryPoints: [entry],
  outfile: join("dist", "main.js"),
  bundle: true,
  platform: "node",
  target: "node22",
  format: "esm",
  sourcemap: true,
  plugins: [thirdPartyExternal],
  metafile: true,
  logLevel: "warning",
});
const bytes = Object.values(result.metafile.outputs).reduce((sum, output) => sum + output.bytes, 0);
console.log(`bundled ${entry} → dist/main.js (${(bytes / 1024).toFixed(0)} KiB)`);
