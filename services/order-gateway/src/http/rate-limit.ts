/**
 * Binance-style REST rate limiting: request weight per IP per clock minute (REQUEST_WEIGHT, 1 MINUTE).
 * Over the limit → HTTP 429 with Retry-After (seconds to the next minute) and -1003. An IP that keeps
 * sending after 429s (`banAfter` refusals in one minute) is banned → HTTP 418 with Retry-After, for
 * 2 minutes doubling on every further ban up to 3 days, as Binance describes.
 *
 * Counters live behind `RateLimitStore` so several gateway processes can share them later (Redis);
 * `InMemoryRateLimitStore` is the one-process adapter.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { errors } from "../errors.ts";
import type { GatewayMetrics } from "../metrics.ts";

export interface RateLimitStore {
  /** Adds `weight` to the key's counter of the window starting at `windowStart`; returns the new total. */
  addWeight(key: string, windowStart: number, weight: number, windowMs: number): Promise<number>;
  /** Counts one refusal in the window; returns the refusals so far. */
  addStrike(key: string, windowStart: number, windowMs: number): Promise<number>;
  /** The ban's end (ms) if the key is banned at `now`. */
  bannedUntil(key: string, now: number): Promise<number | undefined>;
  /** Bans the key; returns the ban's end. The length doubles with each ban (from `baseMs` up to `maxMs`). */
  ban(key: string, now: number, baseMs: number, maxMs: number): Promise<number>;
}

interface Entry {
  windowStart: number;
  weight: number;
  strikes: number;
  bannedUntil: number;
  bans: number;
  expires: number;
}

/** One-process store. Entries expire; at most `maxKeys` are kept (the oldest are dropped first). */
export class InMemoryRateLimitStore implements RateLimitStore {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly maxKeys = 100_000) {}

  private entry(key: string, windowStart: number, windowMs: number): Entry {
    let e = this.entries.get(key);
    if (e === undefined) {
      if (this.entries.size >= this.maxKeys) this.evict(windowStart);
      e = { windowStart, weight: 0, strikes: 0, bannedUntil: 0, bans: 0, expires: 0 };
      this.entries.set(key, e);
    }
    if (e.windowStart !== windowStart) {
      e.windowStart = windowStart;
      e.weight = 0;
      e.strikes = 0;
    }
    e.expires = Math.max(e.expires, windowStart + windowMs);
    return e;
  }

  private evict(now: number): void {
    for (const [key, e] of this.entries) if (e.expires < now && e.bannedUntil < now) this.entries.delete(key);
    // Still full: drop the oldest insertions.
    const excess = this.entries.size - Math.floor(this.maxKeys * 0.9);
    if (excess > 0) {
      let n = 0;
      for (const key of this.entries.keys()) {
        if (n++ >= excess) break;
        this.entries.delete(key);
      }
    }
  }

  async addWeight(key: string, windowStart: number, weight: number, windowMs: number): Promise<number> {
    const e = this.entry(key, windowStart, windowMs);
    e.weight += weight;
    return e.weight;
  }

  async addStrike(key: string, windowStart: number, windowMs: number): Promise<number> {
    const e = this.entry(key, windowStart, windowMs);
    e.strikes += 1;
    return e.strikes;
  }

  async bannedUntil(key: string, now: number): Promise<number | undefined> {
    const e = this.entries.get(key);
    return e && e.bannedUntil > now ? e.bannedUntil : undefined;
  }

  async ban(key: string, now: number, baseMs: number, maxMs: number): Promise<number> {
    const e = this.entry(key, now, baseMs);
    e.bans += 1;
    e.bannedUntil = now + Math.min(maxMs, baseMs * 2 ** (e.bans - 1));
    e.expires = Math.max(e.expires, e.bannedUntil + maxMs);
    return e.bannedUntil;
  }
}

export interface RateLimitOptions {
  /** REQUEST_WEIGHT per minute per IP (default 6000, as Binance). */
  weightPerMinute?: number;
  /** Refusals within one minute before an IP is banned (default 10). */
  banAfter?: number;
  banBaseMs?: number;
  banMaxMs?: number;
  store?: RateLimitStore;
  now?: () => number;
}

declare module "fastify" {
  interface FastifyContextConfig {
    /** Request weight of the route, from the parsed query (invalid values weigh as the default). */
    weight?: (query: Record<string, unknown>) => number;
  }
  interface FastifyRequest {
    usedWeight?: number;
  }
}

const MINUTE = 60_000;

/** Registers the limiter on `app` (hooks apply to every route of this scope). */
export function registerRateLimit(
  app: FastifyInstance,
  metrics: GatewayMetrics,
  options: RateLimitOptions = {},
) {
  const limit = options.weightPerMinute ?? 6_000;
  const banAfter = options.banAfter ?? 10;
  const banBaseMs = options.banBaseMs ?? 2 * MINUTE;
  const banMaxMs = options.banMaxMs ?? 3 * 24 * 60 * MINUTE;
  const store = options.store ?? new InMemoryRateLimitStore();
  const now = options.now ?? Date.now;

  app.addHook("onRequest", async (request: FastifyRequest) => {
    const key = request.ip;
    const t = now();
    const windowStart = Math.floor(t / MINUTE) * MINUTE;
    const banned = await store.bannedUntil(key, t);
    if (banned !== undefined) {
      metrics.rateLimited.inc({ status: "418" });
      throw errors.banned(banned, Math.max(1, Math.ceil((banned - t) / 1000)));
    }
    const weigh = request.routeOptions.config?.weight;
    const weight = weigh ? weigh((request.query ?? {}) as Record<string, unknown>) : 1;
    const used = await store.addWeight(key, windowStart, weight, MINUTE);
    request.usedWeight = used;
    if (used > limit) {
      const strikes = await store.addStrike(key, windowStart, MINUTE);
      if (strikes > banAfter) {
        const until = await store.ban(key, t, banBaseMs, banMaxMs);
        metrics.rateLimited.inc({ status: "418" });
        throw errors.banned(until, Math.max(1, Math.ceil((until - t) / 1000)));
      }
      metrics.rateLimited.inc({ status: "429" });
      throw errors.tooManyRequests(limit, Math.max(1, Math.ceil((windowStart + MINUTE - t) / 1000)));
    }
  });

  app.addHook("onSend", async (request, reply, payload) => {
    reply.header("X-MBX-USED-WEIGHT-1M", String(request.usedWeight ?? 0));
    return payload;
  });
}
