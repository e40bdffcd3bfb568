import { existsSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { ServiceDefinition } from "@grpc/grpc-js";
import { loadSync, type PackageDefinition } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";
import { protoPath as healthProtoPath } from "grpc-health-check";

/**
 * The repository's `proto/` directory (holding `excraft/v1/*.proto`): `PROTO_DIR` if set, else the first
 * ancestor of this package that has one.
 */
export function findProtoDir(start: string = dirname(fileURLToPath(import.meta.url))): string | undefined {
  const fromEnv = process.env.PROTO_DIR;
  if (fromEnv) return existsSync(join(fromEnv, "excraft", "v1")) ? resolve(fromEnv) : undefined;
  let dir = start;
  for (;;) {
    if (existsSync(join(dir, "proto", "excraft", "v1"))) return join(dir, "proto");
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

const cache = new Map<string, PackageDefinition>();

/** Descriptors of every `excraft/v1/*.proto` under `protoDir` plus `grpc.health.v1`, loaded once. */
export function loadReflectionDescriptors(protoDir: string | undefined): PackageDefinition {
  const key = protoDir ?? "";
  const cached = cache.get(key);
  if (cached) return cached;
  const healthRoot = resolve(dirname(healthProtoPath), "..", "..");
  let definition: PackageDefinition = loadSync("health/v1/health.proto", { includeDirs: [healthRoot] });
  if (protoDir) {
    const files = readdirSync(join(protoDir, "excraft", "v1"))
      .filter((f) => f.endsWith(".proto"))
      .sort()
      .map((f) => `excraft/v1/${f}`);
    definition = { ...definition, ...loadSync(files, { includeDirs: [protoDir] }) };
  }
  cache.set(key, definition);
  return definition;
}

/**
 * Descriptors carried by a service definition built with @grpc/proto-loader (ts-proto definitions carry
 * none; their protos come from the proto directory).
 */
export function descriptorsOf(serviceName: string, definition: ServiceDefinition): PackageDefinition {
  const first = Object.values(definition)[0] as
    | { requestType?: { fileDescriptorProtos?: Buffer[] } }
    | undefined;
  const protos = first?.requestType?.fileDescriptorProtos;
  if (!protos) return {};
  return { [serviceName]: { fileDescriptorProtos: protos } } as unknown as PackageDefinition;
}

/**
 * A reflection service (v1 and v1alpha) exposing exactly `serviceNames`, from the proto directory and
 * the services' own descriptors. Returns the names it could not find a descriptor for.
 */
export function createReflection(
  serviceNames: string[],
  definitions: PackageDefinition,
): { reflection: ReflectionService; missing: string[] } {
  const missing = serviceNames.filter((name) => !(name in definitions));
  const reflection = new ReflectionService(definitions, { services: serviceNames });
  return { reflection, missing };
}
