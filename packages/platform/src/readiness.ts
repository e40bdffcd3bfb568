/** A readiness check resolves when its dependency can serve, and throws (or resolves false) when not. */
export type ReadinessCheck = () => Promise<unknown> | unknown;

export interface CheckResult {
  ok: boolean;
  durationMs: number;
  error?: string;
}

export interface ReadinessReport {
  ready: boolean;
  shuttingDown: boolean;
  checks: Record<string, CheckResult>;
}

/** Named readiness checks (database, cache, consumers); `/readyz` answers from `evaluate()`. */
export class Readiness {
  private readonly checks = new Map<string, { check: ReadinessCheck; timeoutMs: number }>();
  private stopping = false;

  /** Adds a check; it fails if it throws, resolves `false`, or takes longer than `timeoutMs` (default 2 s). */
  register(name: string, check: ReadinessCheck, options: { timeoutMs?: number } = {}): void {
    if (this.checks.has(name)) throw new Error(`readiness check "${name}" is already registered`);
    this.checks.set(name, { check, timeoutMs: options.timeoutMs ?? 2_000 });
  }

  /** From now on the process reports not ready (it is draining). */
  markShuttingDown(): void {
    this.stopping = true;
  }

  get shuttingDown(): boolean {
    return this.stopping;
  }

  /** Runs all checks concurrently. */
  async evaluate(): Promise<ReadinessReport> {
    const entries = await Promise.all(
      [...this.checks].map(
        async ([name, { check, timeoutMs }]) => [name, await runCheck(check, timeoutMs)] as const,
      ),
    );
    const checks = Object.fromEntries(entries);
    const ready = !this.stopping && entries.every(([, r]) => r.ok);
    return { ready, shuttingDown: this.stopping, checks };
  }
}

async function runCheck(check: ReadinessCheck, timeoutMs: number): Promise<CheckResult> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
    });
    const value = await Promise.race([Promise.resolve().then(check), timeout]);
    const durationMs = Math.round(performance.now() - started);
    return value === false
      ? { ok: false, durationMs, error: "check returned false" }
      : { ok: true, durationMs };
  } catch (error) {
    return {
      ok: false,
      durationMs: Math.round(performance.now() - started),
      error: error instanceof Error ? error.message : String(error),
    };
  } finally {
    clearTimeout(timer);
  }
}
