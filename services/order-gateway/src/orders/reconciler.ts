/**
 * Reservation reconciliation: a wallet hold whose order never reached the engine (publish failed
 * and the immediate release failed too, or the gateway crashed between Reserve and publish) is
 * released after `timeoutMs`. An `og_reservations` row is written before Wallet.Reserve and deleted
 * once the order is durably in orders.v1; a row older than the timeout is checked against the
 * projection (the engine emitted events for it) and the engine (`MatchingEngine.GetOrder`); only an
 * order neither knows is released (`Wallet.Release`, all that is left).
 */
import type { Logger } from "@excraft/platform";
import type pg from "pg";
import type { EngineOrdersPort, WalletPort } from "./backends.ts";

export interface ReconcilerOptions {
  pool: pg.Pool;
  wallet: WalletPort;
  engine: EngineOrdersPort;
  logger: Logger;
  timeoutMs: number;
  intervalMs: number;
  now: () => number;
}

export class ReservationReconciler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;
  released = 0;

  constructor(private readonly o: ReconcilerOptions) {}

  start(): void {
    this.timer = setInterval(() => void this.runOnce().catch(() => {}), this.o.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running?.catch(() => {});
  }

  /** One pass; returns how many reservations were released. */
  runOnce(): Promise<number> {
    if (!this.running) {
      this.running = this.pass().finally(() => {
        this.running = undefined;
      });
    }
    return this.running;
  }

  private async pass(): Promise<number> {
    const { pool, wallet, engine, logger } = this.o;
    const { rows } = await pool.query<{ order_id: string; account_id: string; symbol: string }>(
      `select r.order_id::text, r.account_id, r.symbol, (o.order_id is not null) as projected
         from og_reservations r left join og_orders o using (order_id)
        where r.created_ms < $1 order by r.order_id limit 500`,
      [this.o.now() - this.o.timeoutMs],
    );
    let released = 0;
    for (const row of rows as ((typeof rows)[number] & { projected: boolean })[]) {
      const orderId = BigInt(row.order_id);
      try {
        const known =
          row.projected || (await engine.getOrder(row.symbol, orderId, row.account_id)) !== undefined;
        if (!known) {
          await wallet.release(row.account_id, orderId);
          released++;
          logger.warn(
            { orderId: row.order_id, account: row.account_id },
            "released the hold of a ghost order",
          );
        }
        await pool.query("delete from og_reservations where order_id = $1", [row.order_id]);
      } catch (error) {
        logger.warn({ err: error, orderId: row.order_id }, "reservation reconciliation failed; will retry");
      }
    }
    this.released += released;
    return released;
  }
}
