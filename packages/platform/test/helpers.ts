import { Writable } from "node:stream";
import * as grpc from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { service as healthService } from "grpc-health-check";

/** A pino destination that keeps every line in memory. */
export function memoryDestination(): {
  stream: Writable;
  lines: string[];
  records: () => Record<string, unknown>[];
} {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(...String(chunk).split("\n").filter(Boolean));
      callback();
    },
  });
  return { stream, lines, records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

/** A grpc.health.v1.Health client. */
export const HealthClient = grpc.makeClientConstructor(healthService, "grpc.health.v1.Health");

const reflectionProto = loadSync("grpc/reflection/v1/reflection.proto", {
  includeDirs: [new URL("../../../node_modules/@grpc/reflection/build/proto", import.meta.url).pathname],
  keepCase: true,
  defaults: true,
});
const reflectionPkg = grpc.loadPackageDefinition(reflectionProto) as unknown as {
  grpc: { reflection: { v1: { ServerReflection: grpc.ServiceClientConstructor } } };
};
/** A grpc.reflection.v1.ServerReflection client. */
export const ReflectionClient = reflectionPkg.grpc.reflection.v1.ServerReflection;

/** Promisified unary call on a dynamic client; resolves with the reply and the response headers. */
export function unary<T>(
  client: grpc.Client,
  method: string,
  request: unknown,
  options: { metadata?: grpc.Metadata; deadline?: number } = {},
): Promise<{ reply: T; headers: grpc.Metadata }> {
  return new Promise((resolve, reject) => {
    let headers = new grpc.Metadata();
    const callOptions: grpc.CallOptions = options.deadline ? { deadline: Date.now() + options.deadline } : {};
    const fn = (client as unknown as Record<string, (...args: unknown[]) => grpc.ClientUnaryCall>)[method]!;
    const call = fn.call(
      client,
      request,
      options.metadata ?? new grpc.Metadata(),
      callOptions,
      (error: grpc.ServiceError | null, reply: T) => (error ? reject(error) : resolve({ reply, headers })),
    );
    call.on("metadata", (md: grpc.Metadata) => {
      headers = md;
    });
  });
}

/** Rejects-with-the-error helper for expected failures. */
export async function failure(promise: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await promise;
  } catch (error) {
    return error as grpc.ServiceError;
  }
  throw new Error("expected the call to fail");
}

/** The value of the Prometheus sample `name` whose labels include all of `labels` (undefined: none). */
export function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const open = line.indexOf("{");
    const close = line.lastIndexOf("}");
    const got: Record<string, string> = {};
    if (open >= 0 && close > open) {
      for (const m of line.slice(open + 1, close).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) got[m[1]!] = m[2]!;
    }
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(line.slice(close + 1).trim());
  }
  return undefined;
}
