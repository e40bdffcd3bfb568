/**
 * Exchange-wide order ids from a PostgreSQL sequence, taken in blocks so the hot path does not
 * wait for the database. Ids stay unique across restarts (a block lost in a crash is skipped).
 *
 * Concurrent callers share one refill (without it, every order arriving while the block is empty
 * fetched a block of its own and all but one were thrown away), and the next block is fetched when
 * the current one is half used, so a steady stream of orders never waits for the sequence.
 */
import type pg from "pg";

export class OrderIdAllocator {
  private next = 0n;
  private end = 0n;
  /** The block fetched ahead (or being fetched), taken when the current one runs out. */
  private ahead: Promise<bigint> | undefined;

  constructor(
    private readonly pool: pg.Pool,
    private readonly block = 1_000,
  ) {}

  async migrate(): Promise<void> {
    await this.pool.query(`create sequence if not exists order_id_seq increment by ${this.block} minvalue 1`);
  }

  async take(): Promise<bigint> {
    while (this.next >= this.end) {
      this.ahead ??= this.fetchBlock();
      const fetching = this.ahead;
      const start = await fetching;
      // Only the first caller back installs the block; the others find it installed and loop once.
      if (this.ahead === fetching) {
        this.ahead = undefined;
        this.next = start;
        this.end = start + BigInt(this.block);
      }
    }
    if (this.ahead === undefined && this.end - this.next <= BigInt(this.block / 2)) {
      // Failures are left to the caller that awaits this block (it retries the fetch).
      this.ahead = this.fetchBlock();
      this.ahead.catch(() => {});
    }
    return this.next++;
  }

  private async fetchBlock(): Promise<bigint> {
    try {
      const result = await this.pool.query<{ id: string }>("select nextval('order_id_seq')::text as id");
      return BigInt(result.rows[0]!.id);
    } catch (error) {
      this.ahead = undefined;
      throw error;
    }
  }
}
