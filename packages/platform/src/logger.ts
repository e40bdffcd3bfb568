import pino, { type DestinationStream, type Logger, type LoggerOptions } from "pino";
import { currentRequestId } from "./request-context";

export type { Logger } from "pino";
export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";

/** Property names whose values never reach a log line, at any of the first four nesting levels. */
export const SECRET_KEYS = [
  "password",
  "passwd",
  "passphrase",
  "secret",
  "apiKey",
  "api_key",
  "apikey",
  "apiSecret",
  "api_secret",
  "secretKey",
  "secret_key",
  "privateKey",
  "private_key",
  "mnemonic",
  "seed",
  "signature",
  "authorization",
  "Authorization",
  "cookie",
  "token",
  "accessToken",
  "access_token",
  "refreshToken",
  "refresh_token",
  "x-api-key",
  "X-MBX-APIKEY",
  "x-mbx-apikey",
] as const;

const DEPTH = 4;

function keyPath(prefix: string, key: string): string {
  const part = /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `["${key}"]`;
  return prefix === "" ? part.replace(/^\./, "") : `${prefix}${part}`;
}

/** The pino `redact` paths: every secret key at depth 0..3 (`password`, `*.password`, `*.*.password`, …). */
export function redactPaths(keys: readonly string[] = SECRET_KEYS): string[] {
  const paths: string[] = [];
  for (const key of keys) {
    let prefix = "";
    for (let depth = 0; depth < DEPTH; depth++) {
      paths.push(keyPath(prefix, key));
      prefix = prefix === "" ? "*" : `${prefix}.*`;
    }
  }
  return paths;
}

export interface CreateLoggerOptions {
  /** Service name, logged as `service` on every line. */
  name: string;
  level?: LogLevel;
  /** Extra keys to redact (names, at any of the first four levels). */
  redactKeys?: string[];
  /** Where lines go (default stdout, synchronous). */
  destination?: DestinationStream;
  /** Extra fields on every line. */
  base?: Record<string, unknown>;
}

/** The censor written instead of a secret value. */
export const REDACTED = "[REDACTED]";

/**
 * A JSON pino logger with secrets redacted and the current request id (from the request context)
 * added to every line written inside a request.
 */
export function createLogger(options: CreateLoggerOptions): Logger {
  const pinoOptions: LoggerOptions = {
    level: options.level ?? "info",
    base: { service: options.name, pid: process.pid, ...options.base },
    redact: { paths: redactPaths([...SECRET_KEYS, ...(options.redactKeys ?? [])]), censor: REDACTED },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    mixin(_merge, _level, instance) {
      if (boundLoggers.has(instance as object)) return {};
      const requestId = currentRequestId();
      return requestId === undefined ? {} : { requestId };
    },
  };
  return options.destination ? pino(pinoOptions, options.destination) : pino(pinoOptions);
}

/** Loggers that already carry `requestId` in their bindings: the mixin leaves them alone. */
const boundLoggers = new WeakSet<object>();

/** A child of `logger` bound to the current request id (or `logger` itself outside a request). */
export function requestLogger(logger: Logger): Logger {
  const requestId = currentRequestId();
  if (requestId === undefined) return logger;
  const child = logger.child({ requestId });
  boundLoggers.add(child);
  return child;
}
