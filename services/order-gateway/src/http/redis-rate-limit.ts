/**
 * `RateLimitStore` in Redis, so every gateway replica shares the same counters (IP request weight,
 * bans, per-account ORDERS). Each call is one MULTI/EXEC round trip; keys expire by themselves.
 */
import type { Redis } from "ioredis";
import type { RateLimitStore } from "./rate-limit.ts";

export class RedisRateLimitStore implements RateLimitStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = "excraft:rl:",
  ) {}

  private async incr(key: string, by: number, ttlMs: number): Promise<number> {
    const result = await this.redis.multi().incrby(key, by).pexpire(key, ttlMs).exec();
    const [error, value] = result?.[0] ?? [new Error("redis transaction aborted"), 0];
    if (error) throw error;
    return Number(value);
  }

  addWeight(key: string, windowStart: number, weight: number, windowMs: number): Promise<number> {
    return this.incr(`${this.prefix}w:${key}:${windowStart}`, weight, windowMs * 2);
  }

  addStrike(key: string, windowStart: number, windowMs: number): Promise<number> {
    return this.incr(`${this.prefix}s:${key}:${windowStart}`, 1, windowMs * 2);
  }

  async bannedUntil(key: string, now: number): Promise<number | undefined> {
    const v = await this.redis.get(`${this.prefix}b:${key}`);
    const until = v === null ? 0 : Number(v);
    return until > now ? until : undefined;
  }

  async ban(key: string, now: number, baseMs: number, maxMs: number): Promise<number> {
    const bans = await this.incr(`${this.prefix}n:${key}`, 1, maxMs * 2);
    const until = now + Math.min(maxMs, baseMs * 2 ** (bans - 1));
    await this.redis.set(`${this.prefix}b:${key}`, String(until), "PX", until - now + 1_000);
    return until;
  }
}
