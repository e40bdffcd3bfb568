import type { Logger } from "./logger";

export type Closer = () => Promise<unknown> | unknown;

export interface ShutdownOptions {
  logger: Logger;
  /** Hard limit for the whole shutdown, in ms (default 30 000): past it the process exits with 1. */
  timeoutMs?: number;
  /** How the process ends (default `process.exit`); tests pass their own. */
  exit?: (code: number) => void;
  /** Signals that start the shutdown (default SIGTERM and SIGINT). */
  signals?: NodeJS.Signals[];
}

/**
 * Graceful shutdown of a process. On a signal (or `run()`): the `onStart` hooks run at once, in order
 * (health NOT_SERVING, readiness off), then the closers run one after another in reverse order of
 * registration (the gRPC server registered last is drained first, the database pool registered
 * first is closed last), then the process exits 0 — or 1 if a closer failed or the hard limit passed.
 */
export class Shutdown {
  private readonly closers: { name: string; close: Closer }[] = [];
  private readonly startHooks: (() => void)[] = [];
  private running: Promise<number> | undefined;
  private readonly options: ShutdownOptions;
  private readonly handlers = new Map<NodeJS.Signals, () => void>();

  constructor(options: ShutdownOptions) {
    this.options = options;
  }

  /** Adds a closer (pool.end, consumer.disconnect, server drain…). */
  register(name: string, close: Closer): void {
    this.closers.push({ name, close });
  }

  /** Adds a hook run synchronously the moment shutdown starts. */
  onStart(hook: () => void): void {
    this.startHooks.push(hook);
  }

  get shuttingDown(): boolean {
    return this.running !== undefined;
  }

  /** Installs the signal handlers. */
  listen(): this {
    for (const signal of this.options.signals ?? ["SIGTERM", "SIGINT"]) {
      const handler = () => {
        void this.run(signal);
      };
      this.handlers.set(signal, handler);
      process.on(signal, handler);
    }
    return this;
  }

  /** Removes the signal handlers. */
  unlisten(): void {
    for (const [signal, handler] of this.handlers) process.off(signal, handler);
    this.handlers.clear();
  }

  /** Runs the shutdown once (later calls return the same promise); resolves with the exit code used. */
  run(reason: string): Promise<number> {
    if (!this.running) this.running = this.execute(reason);
    else this.options.logger.warn({ reason }, "shutdown already in progress");
    return this.running;
  }

  private async execute(reason: string): Promise<number> {
    const { logger } = this.options;
    const exit = this.options.exit ?? ((code: number) => process.exit(code));
    const limit = this.options.timeoutMs ?? 30_000;
    const started = performance.now();
    logger.info({ reason }, "shutdown started");
    const hard = setTimeout(() => {
      logger.error({ timeoutMs: limit }, "shutdown took too long: exiting now");
      exit(1);
    }, limit);
    hard.unref();
    let code = 0;
    for (const hook of this.startHooks) {
      try {
        hook();
      } catch (error) {
        code = 1;
        logger.error({ err: error }, "shutdown start hook failed");
      }
    }
    for (const { name, close } of [...this.closers].reverse()) {
      const t0 = performance.now();
      try {
        await close();
        logger.info({ closer: name, ms: Math.round(performance.now() - t0) }, "closed");
      } catch (error) {
        code = 1;
        logger.error({ err: error, closer: name }, "closer failed");
      }
    }
    clearTimeout(hard);
    logger.info({ ms: Math.round(performance.now() - started), exitCode: code }, "shutdown complete");
    this.unlisten();
    exit(code);
    return code;
  }
}

export function createShutdown(options: ShutdownOptions): Shutdown {
  return new Shutdown(options);
}
