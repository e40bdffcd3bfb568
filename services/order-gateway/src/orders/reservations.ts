/**
 * og_reservations, the reconciler's safety net (reconciler.ts), written with group commit: the rows
 * of concurrent orders go into PostgreSQL in one statement (one transaction, one WAL flush), and the
 * deletes of orders that reached orders.v1 ride along with the next insert (or, when no insert
 * comes, go alone with an asynchronous commit).
 *
 * Why a delete is not on the order's critical path: losing it (crash, failure) leaves a row the
 * reconciler finds after its timeout, sees the order in the projection or the engine, and drops.
 * An insert must be durable before Wallet.Reserve: a hold without a row would never be released.
 */
import { type Logger, withTransaction } from "@excraft/platform";
import type pg from "pg";
import { Histogram, type Registry } from "prom-client";

interface Row {
  orderId: bigint;
  accountId: string;
  symbol: string;
  createdMs: number;
  resolve(): void;
  reject(error: unknown): void;
}

interface Forget {
  orderId: bigint;
  resolve(): void;
}

export interface ReservationJournalOptions {
  pool: pg.Pool;
  logger: Logger;
  now: () => number;
  /** Most rows per statement (default 2 000). */
  maxBatch?: number;
  registry?: Registry;
}

export class ReservationJournal {
  private rows: Row[] = [];
  private forgets: Forget[] = [];
  private writing: Promise<void> | undefined;
  private readonly maxBatch: number;
  private readonly batchSize: Histogram;

  constructor(private readonly o: ReservationJournalOptions) {
    this.maxBatch = o.maxBatch ?? 2_000;
    const name = "gateway_reservation_batch_rows";
    this.batchSize =
      (o.registry?.getSingleMetric(name) as Histogram | undefined) ??
      new Histogram({
        name,
        help: "og_reservations rows inserted per statement (group commit)",
        buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
        registers: o.registry ? [o.registry] : [],
      });
  }

  /** Records the reservation of `orderId`; resolves once the row is durable. */
  add(orderId: bigint, accountId: string, symbol: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.rows.push({ orderId, accountId, symbol, createdMs: this.o.now(), resolve, reject });
      this.kick();
    });
  }

  /** Drops the row of `orderId`; resolves once written or failed (a failure leaves it to the reconciler). */
  forget(orderId: bigint): Promise<void> {
    return new Promise((resolve) => {
      this.forgets.push({ orderId, resolve });
      this.kick();
    });
  }

  /** Resolves when everything queued so far is written. */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
  }

  private kick(): void {
    this.writing ??= this.drain().finally(() => {
      this.writing = undefined;
      if (this.rows.length > 0 || this.forgets.length > 0) this.kick();
    });
  }

  private async drain(): Promise<void> {
    while (this.rows.length > 0 || this.forgets.length > 0) {
      const rows = this.rows.splice(0, this.maxBatch);
      const forgets = this.forgets.splice(0, this.maxBatch);
      const deleteIds = forgets.map((f) => f.orderId.toString());
      try {
        if (rows.length > 0) {
          this.batchSize.observe(rows.length);
          await this.o.pool.query(
            `with forgotten as (delete from og_reservations where order_id = any($5::bigint[]))
             insert into og_reservations (order_id, account_id, symbol, created_ms)
             select * from unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[])`,
            [
              rows.map((r) => r.orderId.toString()),
              rows.map((r) => r.accountId),
              rows.map((r) => r.symbol),
              rows.map((r) => r.createdMs),
              deleteIds,
            ],
          );
          for (const r of rows) r.resolve();
        } else {
          // Nothing waits on a delete: no need to wait for its WAL flush either.
          await withTransaction(
            this.o.pool,
            (client) =>
              client.query("delete from og_reservations where order_id = any($1::bigint[])", [deleteIds]),
            { asynchronousCommit: true },
          );
        }
      } catch (error) {
        for (const r of rows) r.reject(error);
        if (forgets.length > 0) {
          this.o.logger.warn(
            { err: error, orders: forgets.length },
            "dropping og_reservations rows failed; the reconciler drops them later",
          );
        }
      }
      for (const f of forgets) f.resolve();
    }
  }
}
