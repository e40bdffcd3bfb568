/**
 * Exchange-wide order ids from a PostgreSQL sequence, taken in blocks so the hot path does not
 * wait for the database. Ids stay unique across restarts (a block lost in a crash is skipped).
 */
import type pg from "pg";

export class OrderIdAllocator {
  private next = 0n;
  private end = 0n;

  constructor(
    private readonly pool: pg.Pool,
    private readonly block = 1_000,
  ) {}

  async migrate(): Promise<void> {
    await this.pool.query(`create sequence if not exists order_id_seq increment by ${this.block} minvalue 1`);
  }

  async take(): Promise<bigint> {
    if (this.next >= this.end) {
      const result = await this.pool.query<{ id: string }>("select nextval('order_id_seq')::text as id");
      this.next = BigInt(result.rows[0]!.id);
      this.end = this.next + BigInt(this.block);
    }
    return this.next++;
  }
}
