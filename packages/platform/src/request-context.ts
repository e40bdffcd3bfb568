import { AsyncLocalStorage } from "node:async_hooks";
import { randomUUID } from "node:crypto";

/** What the current request carries through every await: its id, the RPC, and a cancellation signal. */
export interface RequestContext {
  readonly requestId: string;
  /** e.g. "excraft.v1.MatchingEngine/GetOrderBook" or "GET /api/v3/order". */
  readonly operation?: string;
  /** Aborted when the caller cancels or the deadline passes. */
  readonly signal?: AbortSignal;
  /** Epoch ms by which the answer is due (Infinity: none). */
  readonly deadline?: number;
}

/** The metadata / header name that carries the request id between services. */
export const REQUEST_ID_HEADER = "x-request-id";

const storage = new AsyncLocalStorage<RequestContext>();

/** Runs `fn` with `context` as the current request context (for it and everything it awaits). */
export function runWithRequestContext<T>(context: RequestContext, fn: () => T): T {
  return storage.run(context, fn);
}

/** The request context of the code running now, if any. */
export function currentRequestContext(): RequestContext | undefined {
  return storage.getStore();
}

/** The request id of the code running now, if any. */
export function currentRequestId(): string | undefined {
  return storage.getStore()?.requestId;
}

/** A new random request id. */
export function newRequestId(): string {
  return randomUUID();
}

const ACCEPTABLE_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/** Keeps a caller-supplied id if it is short and printable, else makes a new one. */
export function acceptRequestId(candidate: unknown): string {
  if (typeof candidate === "string" && ACCEPTABLE_ID.test(candidate)) return candidate;
  return newRequestId();
}
