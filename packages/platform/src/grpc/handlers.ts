import type {
  MethodDefinition,
  ServerWritableStream,
  ServiceDefinition,
  ServiceError,
  sendUnaryData,
  UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { status } from "@grpc/grpc-js";
import type { Logger } from "../logger";
import { currentRequestId } from "../request-context";
import { isStatusError } from "./errors";

/**
 * Turns anything a handler threw or rejected with into what grpc-js sends: gRPC errors (a numeric
 * `code`, e.g. `GrpcError`) go as they are; anything else is logged and answered INTERNAL with the
 * request id, never with its message (which may hold internals).
 */
export function toServiceError(error: unknown, logger?: Logger, method?: string): Partial<ServiceError> {
  if (isStatusError(error)) return error;
  const requestId = currentRequestId();
  logger?.error({ err: error, method }, "gRPC handler failed");
  return {
    code: status.INTERNAL,
    details: `Internal error${requestId ? ` (request id ${requestId})` : ""}`,
  };
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === "object" && value !== null && typeof (value as { then?: unknown }).then === "function"
  );
}

type AnyHandler = (call: unknown, callback?: sendUnaryData<unknown>) => unknown;

/**
 * Wraps every method of `implementation` so that async handlers may simply throw: a throw or
 * rejection becomes the call's status (see `toServiceError`), once.
 */
export function wrapImplementation(
  definition: ServiceDefinition,
  implementation: UntypedServiceImplementation,
  logger?: Logger,
): UntypedServiceImplementation {
  const wrapped: UntypedServiceImplementation = {};
  for (const [name, method] of Object.entries(definition) as [string, MethodDefinition<unknown, unknown>][]) {
    const original = (implementation[name] ??
      (method.originalName ? implementation[method.originalName] : undefined)) as AnyHandler | undefined;
    if (!original) continue;
    if (method.responseStream) {
      wrapped[name] = ((call: ServerWritableStream<unknown, unknown>) => {
        const fail = (error: unknown) => {
          if (!call.cancelled && !call.writableEnded)
            call.emit("error", toServiceError(error, logger, method.path));
        };
        try {
          const result = original(call);
          if (isPromiseLike(result)) result.then(undefined, fail);
        } catch (error) {
          fail(error);
        }
      }) as UntypedServiceImplementation[string];
    } else {
      wrapped[name] = ((call: unknown, callback: sendUnaryData<unknown>) => {
        let answered = false;
        const once: sendUnaryData<unknown> = (error, value, trailer, flags) => {
          if (answered) return;
          answered = true;
          callback(error, value, trailer, flags);
        };
        const fail = (error: unknown) => once(toServiceError(error, logger, method.path));
        try {
          const result = original(call, once);
          if (isPromiseLike(result)) result.then(undefined, fail);
        } catch (error) {
          fail(error);
        }
      }) as UntypedServiceImplementation[string];
    }
  }
  for (const name of Object.keys(implementation)) {
    if (!(name in wrapped) && !Object.values(definition).some((m) => m.originalName === name)) {
      throw new Error(`implementation has "${name}", which is not a method of the service`);
    }
  }
  return wrapped;
}
