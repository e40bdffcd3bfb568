import {
  Metadata,
  ResponderBuilder,
  ServerInterceptingCall,
  type ServerInterceptingCallInterface,
  type ServerInterceptor,
  ServerListenerBuilder,
  status,
} from "@grpc/grpc-js";
import type { Logger } from "../logger";
import type { GrpcServerMetrics } from "../metrics";
import {
  acceptRequestId,
  REQUEST_ID_HEADER,
  type RequestContext,
  runWithRequestContext,
} from "../request-context";
import { isServerFault, statusCodeName } from "./errors";

export type GrpcType = "unary" | "client_stream" | "server_stream" | "bidi_stream";

export interface KitInterceptorOptions {
  metrics?: GrpcServerMetrics;
  logger?: Logger;
  /**
   * Longest a call may run, in ms, when the client's deadline is later or absent: past it the call is
   * answered DEADLINE_EXCEEDED and the handler's call is cancelled. Undefined: only client deadlines.
   */
  maxHandlingMs?: number;
  /** Methods (full paths) exempt from `maxHandlingMs`, e.g. long-lived watch streams. */
  unlimitedMethods?: Iterable<string>;
}

/**
 * A client whose own deadline timer fires resets the stream a moment before the server's copy of that
 * deadline (the timeout was measured on the client before sending): a cancel this close to the
 * deadline is counted as DEADLINE_EXCEEDED, as the server's own timer would have.
 */
const DEADLINE_SLACK_MS = 25;

/** "/excraft.v1.MatchingEngine/GetOrderBook" → ["excraft.v1.MatchingEngine", "GetOrderBook"]. */
export function splitMethodPath(path: string): [service: string, method: string] {
  const slash = path.lastIndexOf("/");
  return [path.slice(1, slash), path.slice(slash + 1)];
}

function deadlineMs(call: ServerInterceptingCallInterface): number {
  const deadline = call.getDeadline();
  return deadline instanceof Date ? deadline.getTime() : deadline;
}

/**
 * The platform's server interceptor, one per server, placed first so that everything after it runs in
 * the request context:
 * - request id: taken from `x-request-id` (or generated), set on the incoming metadata, echoed in the
 *   response headers (or trailers of a trailers-only answer), and put in the AsyncLocalStorage context
 *   around every listener callback so that handlers and loggers see it;
 * - deadlines: a call arriving past its deadline is answered DEADLINE_EXCEEDED without reaching the
 *   handler; a call running longer than `maxHandlingMs` is answered DEADLINE_EXCEEDED and cancelled;
 * - RED metrics (go-grpc-prometheus names) and one log line per call.
 */
export function createKitInterceptor(options: KitInterceptorOptions = {}): ServerInterceptor {
  const { metrics, logger, maxHandlingMs } = options;
  const unlimited = new Set(options.unlimitedMethods ?? []);
  return (methodDescriptor, call) => {
    const [grpcService, grpcMethod] = splitMethodPath(methodDescriptor.path);
    const grpcType: GrpcType = methodDescriptor.requestStream
      ? methodDescriptor.responseStream
        ? "bidi_stream"
        : "client_stream"
      : methodDescriptor.responseStream
        ? "server_stream"
        : "unary";
    const labels = { grpc_service: grpcService, grpc_method: grpcMethod, grpc_type: grpcType };
    const abort = new AbortController();
    let context: RequestContext | undefined;
    let startedAt = 0;
    let deadline = Number.POSITIVE_INFINITY;
    let timer: NodeJS.Timeout | undefined;
    let finished = false;
    let headersSent = false;

    const finish = (code: number, details: string): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      const seconds = (performance.now() - startedAt) / 1000;
      metrics?.handled.inc({ ...labels, grpc_code: statusCodeName(code) });
      metrics?.handlingSeconds.observe(labels, seconds);
      if (logger) {
        const line = {
          requestId: context?.requestId,
          grpcService,
          grpcMethod,
          grpcCode: statusCodeName(code),
          ms: Math.round(seconds * 1000),
          ...(code === status.OK ? {} : { details }),
        };
        if (code === status.OK) logger.debug(line, "gRPC call");
        else if (isServerFault(code)) logger.warn(line, "gRPC call failed");
        else logger.info(line, "gRPC call rejected");
      }
    };

    const withRequestId = (metadata: Metadata | null | undefined): Metadata => {
      const out = metadata ? metadata.clone() : new Metadata();
      if (context) out.set(REQUEST_ID_HEADER, context.requestId);
      return out;
    };

    /** Answers DEADLINE_EXCEEDED from here; the transport then cancels the handler's call. */
    const expire = (details: string): void => {
      if (finished) return;
      abort.abort(new Error(details));
      const trailers = headersSent ? new Metadata() : withRequestId(null);
      finish(status.DEADLINE_EXCEEDED, details);
      call.sendStatus({ code: status.DEADLINE_EXCEEDED, details, metadata: trailers });
    };

    const inContext = (fn: () => void): void => {
      if (context) runWithRequestContext(context, fn);
      else fn();
    };

    const listener = new ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        startedAt = performance.now();
        metrics?.started.inc(labels);
        const requestId = acceptRequestId(metadata.get(REQUEST_ID_HEADER)[0]);
        metadata.set(REQUEST_ID_HEADER, requestId);
        deadline = deadlineMs(call);
        context = {
          requestId,
          operation: `${grpcService}/${grpcMethod}`,
          signal: abort.signal,
          deadline,
        };
        const now = Date.now();
        if (deadline <= now) {
          expire("Deadline exceeded before the call was handled");
          return;
        }
        const limit = unlimited.has(methodDescriptor.path)
          ? Number.POSITIVE_INFINITY
          : (maxHandlingMs ?? Infinity);
        const budget = Math.min(deadline - now, limit);
        if (Number.isFinite(budget)) {
          const reason =
            deadline - now <= limit
              ? "Deadline exceeded"
              : `Deadline exceeded: server limit of ${limit} ms per call`;
          timer = setTimeout(() => expire(reason), budget);
        }
        inContext(() => next(metadata));
      })
      .withOnReceiveMessage((message, next) => {
        if (finished) return;
        metrics?.msgReceived.inc(labels);
        inContext(() => next(message));
      })
      .withOnReceiveHalfClose((next) => {
        if (finished) return;
        inContext(next);
      })
      .withOnCancel(() => {
        // Also called after every completed call; only a call without a status was really cut short.
        if (!finished) {
          const late = Date.now() >= deadline - DEADLINE_SLACK_MS;
          abort.abort(new Error(late ? "deadline exceeded" : "cancelled by the client"));
          finish(
            late ? status.DEADLINE_EXCEEDED : status.CANCELLED,
            late ? "Deadline exceeded" : "Cancelled",
          );
        }
      })
      .build();

    const responder = new ResponderBuilder()
      .withStart((next) => next(listener))
      .withSendMetadata((metadata, next) => {
        headersSent = true;
        next(withRequestId(metadata));
      })
      .withSendMessage((message, next) => {
        if (!finished) metrics?.msgSent.inc(labels);
        next(message);
      })
      .withSendStatus((statusObject, next) => {
        if (finished) return;
        const out = headersSent
          ? statusObject
          : { ...statusObject, metadata: withRequestId(statusObject.metadata) };
        finish(statusObject.code, statusObject.details);
        next(out);
      })
      .build();

    return new ServerInterceptingCall(call, responder);
  };
}
