/**
 * The order/trade projection: consumes executions.v1 (consumer group per gateway instance) into
 * og_orders / og_trades, idempotent by (shard, sequence) and fenced by epoch (ADR 7): the cursor row
 * is locked and written in the same transaction as the rows. After a batch is durable, the events of
 * commands this instance is waiting for (POST/DELETE answering RESULT/FULL) are handed to `PendingCommands`.
 */
import type { Batch, EventLog, Subscription } from "@excraft/eventlog";
import type { Logger } from "@excraft/platform";
import type { ExecutionEvent, OrderState } from "@excraft/proto";
import { decodeExecutionRecord } from "@excraft/proto/records";
import type pg from "pg";
import type { MarketRegistry } from "../markets.ts";
import { admit, EXECUTIONS_TOPIC } from "../projector/projector.ts";
import type { StreamCursor } from "../projector/types.ts";
import { commissionOf } from "./units.ts";
import type { WalletReference } from "./wallet-reference.ts";

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

/**
 * A writer whose rows must commit or roll back with a projection batch (the market-maker sessions'
 * reports): `write` runs inside the batch's transaction, `settled` after its commit or rollback.
 */
export interface ProjectionParticipant {
  write(client: pg.PoolClient, events: ExecutionEvent[]): Promise<void>;
  settled(committed: boolean): void;
}

export interface OrderProjectionOptions {
  eventLog: EventLog;
  pool: pg.Pool;
  markets: MarketRegistry;
  logger: Logger;
  pending: PendingCommands;
  /** The wallet's asset decimals and the fee rates each account pays (commissions of og_trades). */
  reference: WalletReference;
  /** Each gateway replica needs its own group (every replica must see every event). */
  groupId: string;
}

export class OrderProjection {
  private subscription: Subscription | undefined;
  private chain: Promise<void> = Promise.resolve();
  private readonly listeners: ((events: ExecutionEvent[]) => void)[] = [];
  private readonly participants: ProjectionParticipant[] = [];
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

  /** Writes rows in each batch's transaction (see ProjectionParticipant). */
  addParticipant(participant: ProjectionParticipant): void {
    this.participants.push(participant);
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
        // A record holds many events (ADR 10): each is admitted by its own (shard, epoch, sequence).
        for (const event of decodeExecutionRecord(record.value)) {
          decoded.push({ event, offset: record.offset });
        }
      } catch (error) {
        this.o.logger.warn({ err: error, offset: record.offset.toString() }, "undecodable execution event");
      }
    }
    await this.prepareFees(decoded);
    const admitted: ExecutionEvent[] = [];
    const writes = new ProjectionWrites();
    const client = await this.o.pool.connect();
    const joined: ProjectionParticipant[] = [];
    try {
      await client.query("begin");
      const cursors = new Map<number, StreamCursor>();
      for (const { event } of decoded) {
        const header = event.header;
        if (!header) continue;
        let cursor = cursors.get(header.shard);
        if (!cursor) {
          // One round trip: the upsert creates the row if needed and locks it (as FOR UPDATE would).
          const { rows } = await client.query<{ epoch: string; sequence: string }>(
            `insert into og_cursors (shard, epoch, sequence) values ($1, 0, 0)
             on conflict (shard) do update set shard = excluded.shard
             returning epoch::text, sequence::text`,
            [header.shard],
          );
          cursor = { epoch: BigInt(rows[0]!.epoch), sequence: BigInt(rows[0]!.sequence) };
          cursors.set(header.shard, cursor);
        }
        const verdict = admit(cursor, header.epoch, header.sequence);
        if (verdict === "stale" || verdict === "duplicate") continue;
        this.collect(writes, event);
        admitted.push(event);
      }
      await writes.write(client);
      if (admitted.length > 0) {
        for (const p of this.participants) {
          joined.push(p);
          await p.write(client, admitted);
        }
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
      for (const p of joined) p.settled(false);
      throw error;
    } finally {
      client.release();
    }
    for (const p of joined) p.settled(true);
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

  /**
   * Fetches (or refreshes) the fee rates of every account that trades in the batch, for the times of
   * its trades, before its transaction: commissions are then computed synchronously, and the listeners
   * (executionReport) and RESULT/FULL answers of the batch find the same rates in the cache.
   */
  private async prepareFees(decoded: { event: ExecutionEvent }[]): Promise<void> {
    const times = new Map<string, { min: number; max: number }>();
    const symbols = new Set<string>();
    const assets = new Set<string>();
    const traded = (accountId: string | undefined, t: number) => {
      if (accountId === undefined) return;
      const seen = times.get(accountId);
      if (!seen) times.set(accountId, { min: t, max: t });
      else {
        if (t < seen.min) seen.min = t;
        if (t > seen.max) seen.max = t;
      }
    };
    for (const { event } of decoded) {
      const body = event.event;
      if (body?.$case !== "trade") continue;
      const t = Number(event.header?.timeMs ?? 0n);
      traded(body.value.maker?.accountId, t);
      traded(body.value.taker?.accountId, t);
      symbols.add(event.symbol);
      const spec = this.o.markets.get(event.symbol);
      if (spec) assets.add(spec.baseAsset).add(spec.quoteAsset);
    }
    if (times.size > 0) await this.o.reference.prepare(times.keys(), symbols, assets, times);
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

  /** The rows an event changes, merged into the batch's writes (one statement per table per batch). */
  private collect(writes: ProjectionWrites, event: ExecutionEvent): void {
    const body = event.event;
    const time = Number(event.header?.timeMs ?? 0n);
    switch (body?.$case) {
      case "accepted":
      case "cancelled":
      case "expired":
      case "triggered":
        if (body.value.order) writes.order(event.symbol, body.value.order, time);
        return;
      case "replaced":
        if (body.value.oldOrder) writes.order(event.symbol, body.value.oldOrder, time);
        if (body.value.newOrder) writes.order(event.symbol, body.value.newOrder, time);
        return;
      case "trade": {
        const t = body.value;
        if (!t.maker || !t.taker) return;
        writes.order(event.symbol, t.maker, time);
        writes.order(event.symbol, t.taker, time);
        const spec = this.o.markets.get(event.symbol);
        const { reference } = this.o;
        for (const [o, isMaker] of [
          [t.maker, true],
          [t.taker, false],
        ] as const) {
          const isBuyer = isMaker === t.buyerIsMaker;
          const c = spec
            ? commissionOf(
                spec,
                t.price,
                t.quantity,
                isBuyer,
                isMaker,
                reference.cachedFees(o.accountId, event.symbol, time),
                reference.decimalsOf,
              )
            : { amount: 0n, asset: "", decimals: 8 };
          writes.trades.push([
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
          ]);
        }
        return;
      }
      default:
        return;
    }
  }
}

/** An order's states within one batch, in event order. */
interface MergedOrder {
  symbol: string;
  first: OrderState;
  firstMs: number;
  last: OrderState;
  lastMs: number;
  /** working_ms if the row is new (created, or when it left PENDING_NEW (8) within the batch). */
  insertWorkingMs: number;
  /** When the order left PENDING_NEW after its first state in the batch (null = it did not). */
  batchWorkingMs: number | null;
}

/**
 * The og_orders / og_trades changes of one batch, written as one statement per table. The result is
 * what applying every state in event order would give: the insert takes the first state's fixed
 * columns and the last state's progress; working_ms follows the PENDING_NEW → working transition.
 */
class ProjectionWrites {
  private readonly orders = new Map<bigint, MergedOrder>();
  readonly trades: unknown[][] = [];

  order(symbol: string, o: OrderState, time: number): void {
    const m = this.orders.get(o.orderId);
    if (!m) {
      const created = Number(o.createdTimeMs) || time;
      this.orders.set(o.orderId, {
        symbol,
        first: o,
        firstMs: time,
        last: o,
        lastMs: time,
        insertWorkingMs: created,
        batchWorkingMs: null,
      });
      return;
    }
    if (m.last.status === 8 && o.status !== 8) {
      m.insertWorkingMs = time;
      m.batchWorkingMs = time;
    }
    m.last = o;
    m.lastMs = time;
  }

  async write(client: pg.PoolClient): Promise<void> {
    if (this.orders.size > 0) {
      const rows = [...this.orders.values()];
      const col = <T>(f: (m: MergedOrder) => T) => rows.map(f);
      await client.query(
        `with u as (
           select * from unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::smallint[], $6::smallint[],
             $7::smallint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::smallint[], $13::bigint[],
             $14::smallint[], $15::bigint[], $16::bigint[], $17::bigint[], $18::bigint[], $19::smallint[],
             $20::bigint[], $21::bigint[])
           as u(order_id, symbol, account_id, client_order_id, side, type, time_in_force, price, quantity,
             filled_quantity, filled_quote, status, stop_price, stp, quote_order_qty, created_ms, updated_ms,
             working_ms, first_status, first_ms, batch_working_ms)
         ), updated as (
           update og_orders o set filled_quantity = u.filled_quantity, filled_quote = u.filled_quote,
             status = u.status, updated_ms = u.updated_ms, price = u.price, quantity = u.quantity,
             working_ms = coalesce(u.batch_working_ms,
               case when o.status = 8 and u.first_status <> 8 then u.first_ms else o.working_ms end)
           from u where o.order_id = u.order_id
           returning o.order_id
         )
         insert into og_orders (order_id, symbol, account_id, client_order_id, side, type, time_in_force, price,
           quantity, filled_quantity, filled_quote, status, stop_price, stp, quote_order_qty, created_ms,
           updated_ms, working_ms)
         select order_id, symbol, account_id, client_order_id, side, type, time_in_force, price, quantity,
           filled_quantity, filled_quote, status, stop_price, stp, quote_order_qty, created_ms, updated_ms,
           working_ms
         from u where order_id not in (select order_id from updated)`,
        [
          col((m) => m.first.orderId.toString()),
          col((m) => m.symbol),
          col((m) => m.first.accountId),
          col((m) => m.first.clientOrderId),
          col((m) => m.first.side),
          col((m) => m.first.type),
          col((m) => m.first.timeInForce),
          col((m) => m.last.price.toString()),
          col((m) => m.last.quantity.toString()),
          col((m) => m.last.filledQuantity.toString()),
          col((m) => m.last.filledQuote.toString()),
          col((m) => m.last.status),
          col((m) => m.first.stopPrice.toString()),
          col((m) => m.first.selfTradePrevention),
          col((m) => m.first.quoteOrderQty.toString()),
          col((m) => Number(m.first.createdTimeMs) || m.firstMs),
          col((m) => m.lastMs),
          col((m) => m.insertWorkingMs),
          col((m) => m.first.status),
          col((m) => m.firstMs),
          col((m) => m.batchWorkingMs),
        ],
      );
    }
    if (this.trades.length > 0) {
      const col = (i: number) => this.trades.map((t) => t[i]);
      await client.query(
        `insert into og_trades (symbol, trade_id, is_maker, order_id, account_id, is_buyer, price, quantity,
           commission, commission_asset, commission_dec, time_ms)
         select * from unnest($1::text[], $2::bigint[], $3::boolean[], $4::bigint[], $5::text[], $6::boolean[],
           $7::bigint[], $8::bigint[], $9::bigint[], $10::text[], $11::smallint[], $12::bigint[])
         on conflict do nothing`,
        Array.from({ length: 12 }, (_, i) => col(i)),
      );
    }
  }
}
