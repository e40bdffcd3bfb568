/**
 * The order/trade projection: consumes executions.v1 (consumer group per gateway instance) into
 * og_orders / og_trades, idempotent by (shard, sequence) and fenced by epoch (ADR 7): the cursor row
 * is locked and written in the same transaction as the rows. After a batch is durable, the events of
 * commands this instance is waiting for (POST/DELETE answering RESULT/FULL) are handed to `PendingCommands`.
 */
import type { Batch, EventLog, Subscription } from "@excraft/eventlog";
import type { Logger } from "@excraft/platform";
import { ExecutionEvent, type OrderState } from "@excraft/proto";
import type pg from "pg";
import type { MarketRegistry } from "../markets.ts";
import { admit, EXECUTIONS_TOPIC } from "../projector/projector.ts";
import type { StreamCursor } from "../projector/types.ts";
import { commissionOf, type FeeRates } from "./units.ts";

/** Waiters for the engine's answer to one command (keyed by command id). */
export class PendingCommands {
  private readonly waiting = new Map<
    string,
    { events: ExecutionEvent[]; resolve: (events: ExecutionEvent[]) => void; timer: NodeJS.Timeout }
  >();

  get size(): number {
    return this.waiting.size;
  }

  /** Registers before the command is published; resolves with its events, or [] after `timeoutMs`. */
  wait(commandId: string, timeoutMs: number): Promise<ExecutionEvent[]> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        const entry = this.waiting.get(commandId);
        this.waiting.delete(commandId);
        resolve(entry?.events ?? []);
      }, timeoutMs);
      this.waiting.set(commandId, { events: [], resolve, timer });
    });
  }

  cancel(commandId: string): void {
    const entry = this.waiting.get(commandId);
    if (!entry) return;
    clearTimeout(entry.timer);
    this.waiting.delete(commandId);
    entry.resolve([]);
  }

  has(commandId: string): boolean {
    return this.waiting.has(commandId);
  }

  add(commandId: string, event: ExecutionEvent): void {
    this.waiting.get(commandId)?.events.push(event);
  }

  complete(commandId: string): void {
    const entry = this.waiting.get(commandId);
    if (!entry || entry.events.length === 0) return;
    clearTimeout(entry.timer);
    this.waiting.delete(commandId);
    entry.resolve(entry.events);
  }

  clear(): void {
    for (const id of [...this.waiting.keys()]) this.cancel(id);
  }
}

export interface OrderProjectionOptions {
  eventLog: EventLog;
  pool: pg.Pool;
  markets: MarketRegistry;
  logger: Logger;
  pending: PendingCommands;
  feesOf: (symbol: string) => FeeRates;
  decimalsOf: (asset: string) => number | undefined;
  /** Each gateway replica needs its own group (every replica must see every event). */
  groupId: string;
}

export class OrderProjection {
  private subscription: Subscription | undefined;
  private chain: Promise<void> = Promise.resolve();
  private readonly listeners: ((events: ExecutionEvent[]) => void)[] = [];
  /** Records consumed (for tests). */
  consumed = 0;

  constructor(private readonly o: OrderProjectionOptions) {}

  async start(): Promise<void> {
    this.subscription = await this.o.eventLog.subscribe({
      topics: [EXECUTIONS_TOPIC],
      groupId: this.o.groupId,
      fromBeginning: true,
      eachBatch: (batch) => {
        const run = this.chain.then(() => this.apply(batch));
        this.chain = run.catch(() => {});
        return run;
      },
      onError: (error) => this.o.logger.error({ err: error }, "order projection batch failed; retrying"),
    });
  }

  /** Receives the admitted events of every durable batch (user data streams). */
  addListener(listener: (events: ExecutionEvent[]) => void): void {
    this.listeners.push(listener);
  }

  async stop(): Promise<void> {
    await this.subscription?.stop();
    this.subscription = undefined;
  }

  private async apply(batch: Batch): Promise<void> {
    const decoded: { event: ExecutionEvent; offset: bigint }[] = [];
    for (const record of batch.records) {
      try {
        decoded.push({ event: ExecutionEvent.decode(record.value), offset: record.offset });
      } catch (error) {
        this.o.logger.warn({ err: error, offset: record.offset.toString() }, "undecodable execution event");
      }
    }
    const admitted: ExecutionEvent[] = [];
    const client = await this.o.pool.connect();
    try {
      await client.query("begin");
      const cursors = new Map<number, StreamCursor>();
      for (const { event } of decoded) {
        const header = event.header;
        if (!header) continue;
        let cursor = cursors.get(header.shard);
        if (!cursor) {
          await client.query(
            "insert into og_cursors (shard, epoch, sequence) values ($1, 0, 0) on conflict do nothing",
            [header.shard],
          );
          const { rows } = await client.query<{ epoch: string; sequence: string }>(
            "select epoch::text, sequence::text from og_cursors where shard = $1 for update",
            [header.shard],
          );
          cursor = { epoch: BigInt(rows[0]!.epoch), sequence: BigInt(rows[0]!.sequence) };
          cursors.set(header.shard, cursor);
        }
        const verdict = admit(cursor, header.epoch, header.sequence);
        if (verdict === "stale" || verdict === "duplicate") continue;
        await this.applyEvent(client, event);
        admitted.push(event);
      }
      for (const [shard, c] of cursors) {
        await client.query("update og_cursors set epoch = $2, sequence = $3 where shard = $1", [
          shard,
          c.epoch.toString(),
          c.sequence.toString(),
        ]);
      }
      await client.query("commit");
    } catch (error) {
      await client.query("rollback").catch(() => {});
      throw error;
    } finally {
      client.release();
    }
    this.consumed += batch.records.length;
    this.notify(batch, decoded);
    if (admitted.length > 0) {
      for (const listener of this.listeners) {
        try {
          listener(admitted);
        } catch (error) {
          this.o.logger.warn({ err: error }, "order event listener failed");
        }
      }
    }
  }

  /** A waiting command whose events reached the end of the previous batch (more may follow). */
  private deferred: string | undefined;

  /** Hands events to waiters; a command is complete once a later record (or the end of the log) follows it. */
  private notify(batch: Batch, decoded: { event: ExecutionEvent; offset: bigint }[]): void {
    const { pending } = this.o;
    if (this.deferred !== undefined && decoded[0]?.event.header?.commandId !== this.deferred) {
      pending.complete(this.deferred);
    }
    this.deferred = undefined;
    if (pending.size === 0) return;
    const touched = new Set<string>();
    for (const { event } of decoded) {
      const id = event.header?.commandId ?? "";
      if (id !== "" && pending.has(id)) {
        pending.add(id, event);
        touched.add(id);
      }
    }
    const last = decoded[decoded.length - 1];
    const lastId = last?.event.header?.commandId;
    const more = last !== undefined && last.offset + 1n < batch.highWatermark;
    for (const id of touched) {
      if (id === lastId && more) this.deferred = id;
      else pending.complete(id);
    }
  }

  private async applyEvent(client: pg.PoolClient, event: ExecutionEvent): Promise<void> {
    const body = event.event;
    const time = Number(event.header?.timeMs ?? 0n);
    switch (body?.$case) {
      case "accepted":
      case "cancelled":
      case "expired":
      case "triggered":
        if (body.value.order) await this.upsertOrder(client, event.symbol, body.value.order, time);
        return;
      case "replaced":
        if (body.value.oldOrder) await this.upsertOrder(client, event.symbol, body.value.oldOrder, time);
        if (body.value.newOrder) await this.upsertOrder(client, event.symbol, body.value.newOrder, time);
        return;
      case "trade": {
        const t = body.value;
        if (!t.maker || !t.taker) return;
        await this.upsertOrder(client, event.symbol, t.maker, time);
        await this.upsertOrder(client, event.symbol, t.taker, time);
        const spec = this.o.markets.get(event.symbol);
        const fees = this.o.feesOf(event.symbol);
        for (const [o, isMaker] of [
          [t.maker, true],
          [t.taker, false],
        ] as const) {
          const isBuyer = isMaker === t.buyerIsMaker;
          const c = spec
            ? commissionOf(spec, t.price, t.quantity, isBuyer, isMaker, fees, this.o.decimalsOf)
            : { amount: 0n, asset: "", decimals: 8 };
          await client.query(
            `insert into og_trades (symbol, trade_id, is_maker, order_id, account_id, is_buyer, price, quantity,
               commission, commission_asset, commission_dec, time_ms)
             values ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12) on conflict do nothing`,
            [
              event.symbol,
              t.tradeId.toString(),
              isMaker,
              o.orderId.toString(),
              o.accountId,
              isBuyer,
              t.price.toString(),
              t.quantity.toString(),
              c.amount.toString(),
              c.asset,
              c.decimals,
              time,
            ],
          );
        }
        return;
      }
      default:
        return;
    }
  }

  private async upsertOrder(client: pg.PoolClient, symbol: string, o: OrderState, time: number) {
    await client.query(
      `insert into og_orders (order_id, symbol, account_id, client_order_id, side, type, time_in_force, price,
         quantity, filled_quantity, filled_quote, status, stop_price, stp, quote_order_qty, created_ms, updated_ms,
         working_ms)
       values ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18)
       on conflict (order_id) do update set filled_quantity = excluded.filled_quantity,
         filled_quote = excluded.filled_quote, status = excluded.status, updated_ms = excluded.updated_ms,
         price = excluded.price, quantity = excluded.quantity,
         working_ms = case when og_orders.status = 8 and excluded.status <> 8 then excluded.updated_ms
                           else og_orders.working_ms end`,
      [
        o.orderId.toString(),
        symbol,
        o.accountId,
        o.clientOrderId,
        o.side,
        o.type,
        o.timeInForce,
        o.price.toString(),
        o.quantity.toString(),
        o.filledQuantity.toString(),
        o.filledQuote.toString(),
        o.status,
        o.stopPrice.toString(),
        o.selfTradePrevention,
        o.quoteOrderQty.toString(),
        Number(o.createdTimeMs) || time,
        time,
        Number(o.createdTimeMs) || time,
      ],
    );
  }
}
