/**
 * Compiles contracts/src with the `solc` npm package (solc-js, no compiler download) and caches the result
 * under contracts/artifacts, keyed by a hash of every source (ours and imported), the compiler version and
 * the settings. `ensureArtifacts()` recompiles only when that hash changes.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);

export const CONTRACTS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const SRC_DIR = join(CONTRACTS_DIR, "src");
export const ARTIFACTS_DIR = join(CONTRACTS_DIR, "artifacts");

/** The deployable contracts (bindings are generated for these). */
export const CONTRACT_NAMES = [
  "EXT",
  "ExtVesting",
  "EmissionSchedule",
  "PoEAnchor",
  "ExtBurner",
  "RewardDistributor",
  "TradingPools",
  "Congress",
  "Senate",
  "SuperPoolBoard",
] as const;
export type ContractName = (typeof CONTRACT_NAMES)[number];

export interface Artifact {
  contractName: string;
  abi: unknown[];
  bytecode: string;
}
export type Artifacts = Record<ContractName, Artifact>;

const SETTINGS = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: "cancun",
  outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
};

function listSol(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listSol(join(dir, e.name)) : e.name.endsWith(".sol") ? [join(dir, e.name)] : [],
  );
}

function resolveImport(path: string): string {
  if (path.startsWith("@")) return require.resolve(path);
  return join(SRC_DIR, path);
}

/** Source units keyed as solc sees them: our files relative to src/, libraries by package path. */
function collectSources(): Record<string, { content: string }> {
  const sources: Record<string, { content: string }> = {};
  for (const file of listSol(SRC_DIR)) {
    sources[relative(SRC_DIR, file)] = { content: readFileSync(file, "utf8") };
  }
  return sources;
}

function compilerVersion(): string {
  const solc = require("solc") as { version(): string };
  return solc.version();
}

/** Hash of all inputs, including every transitively imported library file. */
function inputHash(sources: Record<string, { content: string }>): string {
  const h = createHash("sha256");
  h.update(compilerVersion());
  h.update(JSON.stringify(SETTINGS));
  const seen = new Set<string>();
  const visit = (key: string, content: string) => {
    if (seen.has(key)) return;
    seen.add(key);
    h.update(key);
    h.update(content);
    for (const m of content.matchAll(/import\s+(?:[^"']*from\s+)?["']([^"']+)["']/g)) {
      const spec = m[1]!;
      const next = spec.startsWith(".") ? join(dirname(key), spec) : spec;
      const abs = next.startsWith("@") ? resolveImport(next) : join(SRC_DIR, next);
      if (existsSync(abs) && !seen.has(next)) visit(next, readFileSync(abs, "utf8"));
    }
  };
  for (const [k, v] of Object.entries(sources).sort(([a], [b]) => a.localeCompare(b))) visit(k, v.content);
  return h.digest("hex");
}

export function compile(log: (s: string) => void = console.log): Artifacts {
  const solc = require("solc") as { compile(input: string, cb: object): string; version(): string };
  const sources = collectSources();
  log(`compiling ${Object.keys(sources).length} sources with solc ${solc.version()} …`);
  const t0 = Date.now();
  const out = JSON.parse(
    solc.compile(JSON.stringify({ language: "Solidity", sources, settings: SETTINGS }), {
      import: (path: string) => {
        try {
          return { contents: readFileSync(resolveImport(path), "utf8") };
        } catch {
          return { error: `not found: ${path}` };
        }
      },
    }),
  ) as {
    errors?: { severity: string; formattedMessage: string }[];
    contracts: Record<string, Record<string, { abi: unknown[]; evm: { bytecode: { object: string } } }>>;
  };
  const errors = (out.errors ?? []).filter((e) => e.severity === "error");
  for (const w of (out.errors ?? []).filter((e) => e.severity !== "error")) log(w.formattedMessage);
  if (errors.length) throw new Error(`solc failed:\n${errors.map((e) => e.formattedMessage).join("\n")}`);
  const artifacts = {} as Artifacts;
  for (const name of CONTRACT_NAMES) {
    const unit = out.contracts[`${name}.sol`]?.[name];
    if (!unit) throw new Error(`no output for ${name}`);
    artifacts[name] = { contractName: name, abi: unit.abi, bytecode: `0x${unit.evm.bytecode.object}` };
  }
  log(`compiled in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return artifacts;
}

/** Returns cached artifacts when the inputs are unchanged, compiling (and caching) otherwise. */
export function ensureArtifacts(log: (s: string) => void = console.log): Artifacts {
  const hash = inputHash(collectSources());
  const cacheFile = join(ARTIFACTS_DIR, "artifacts.json");
  if (existsSync(cacheFile)) {
    const cached = JSON.parse(readFileSync(cacheFile, "utf8")) as { hash: string; artifacts: Artifacts };
    if (cached.hash === hash) return cached.artifacts;
  }
  const artifacts = compile(log);
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  writeFileSync(cacheFile, JSON.stringify({ hash, artifacts }));
  for (const name of CONTRACT_NAMES) {
    writeFileSync(join(ARTIFACTS_DIR, `${name}.json`), JSON.stringify(artifacts[name], null, 2));
  }
  return artifacts;
}
