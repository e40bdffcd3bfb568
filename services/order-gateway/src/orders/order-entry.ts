/**
 * The order core shared by the signed REST routes and the market-maker gRPC session: ORDERS limits,
 * the funds to reserve, og_reservations + Wallet.Reserve, the OrderCommand into orders.v1 (partition =
 * the market's shard, key = symbol) and waiting for the engine's events of a command (handed over by
 * the projection once durable). Validation of the parameters is `validateOrder` (http/order-routes.ts).
 */
import type { EventLog } from "@excraft/eventlog";
import type { Logger } from "@excraft/platform";
import {
  type ExecutionEvent,
  type MarketSpec,
  OrderCommand,
  type OrderState,
  OrderType,
  Side,
  type TimeInForce,
} from "@excraft/proto";
import type { OrderBookSource } from "../engine/order-book-source.ts";
import { BinanceError, errors } from "../errors.ts";
import type { RateLimitStore } from "../http/rate-limit.ts";
import { randomToken } from "../keys/api-keys.ts";
import type { WalletPort } from "./backends.ts";
import type { OrderIdAllocator } from "./order-ids.ts";
import type { PendingCommands } from "./projection.ts";
import type { ReservationJournal } from "./reservations.ts";
import { baseMinor, commissionOf, notionalOf, quoteMinor } from "./units.ts";
import { type OrderRow, rowFromState, type TradeRow } from "./views.ts";
import type { WalletReference } from "./wallet-reference.ts";

export const ORDERS_TOPIC = "orders.v1";

/** The engine carries prices and quantities as safe integers. */
export const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
export const INT64_MAX = (1n << 63n) - 1n;

export interface OrdersLimit {
  store: RateLimitStore;
  /** Binance ORDERS limits (per account): default 100 per 10 s and 200 000 per day. */
  per10s: number;
  perDay: number;
}

/** A new order that passed `validateOrder` (the market's filters). */
export interface ValidOrder {
  spec: MarketSpec;
  side: Side;
  type: OrderType;
  timeInForce: TimeInForce;
  price: bigint;
  quantity: bigint;
  quoteOrderQty: bigint;
  stopPrice: bigint;
  stp: number;
  clientOrderId: string | undefined;
  respType: "ACK" | "RESULT" | "FULL";
}

export interface OrderEntryOptions {
  eventLog: EventLog;
  wallet: WalletPort;
  books: OrderBookSource;
  orderIds: OrderIdAllocator;
  pending: PendingCommands;
  /** og_reservations (group-committed rows; the reconciler's safety net). */
  reservations: ReservationJournal;
  logger: Logger;
  ordersLimit: OrdersLimit;
  /** The wallet's asset decimals (reservations) and account fee rates (commissions of fills). */
  reference: WalletReference;
  /** How long a caller waits for the engine's events of a command. */
  responseTimeoutMs: number;
  /** Extra quote reserved for a STOP_LOSS / TAKE_PROFIT (market) BUY over stopPrice × quantity (bps). */
  stopBuyHeadroomBps: number;
  now: () => number;
}

/** Events of one command that concern one order. */
export interface OrderEvents {
  rejected?: { reason: string; message: string };
  state?: OrderRow;
  fills: TradeRow[];
  transactTime: number;
}

export const unknownOrder = () => new BinanceError(400, -2011, "Unknown order sent.");
export const filterFailure = (f: string) => new BinanceError(400, -1013, `Filter failure: ${f}`);
export const insufficientFunds = () =>
  new BinanceError(400, -2010, "Account has insufficient balance for requested action.");
export const responseTimeout = () =>
  new BinanceError(
    503,
    -1007,
    "Timeout waiting for response from backend server. Send status unknown; execution status unknown.",
  );

/** An engine rejection as a Binance error; `reason` keeps the engine's machine-readable reason. */
export class EngineRejectError extends BinanceError {
  constructor(
    readonly reason: string,
    httpStatus: number,
    code: number,
    msg: string,
  ) {
    super(httpStatus, code, msg);
  }
}

/** Engine reject reason → Binance error. */
export function rejectError(reason: string, message: string): EngineRejectError {
  const e = (code: number, msg: string) => new EngineRejectError(reason, 400, code, msg);
  switch (reason) {
    case "PRICE_FILTER":
      return e(-1013, "Filter failure: PRICE_FILTER");
    case "LOT_SIZE":
      return e(-1013, "Filter failure: LOT_SIZE");
    case "MIN_NOTIONAL":
    case "MAX_NOTIONAL":
      return e(-1013, "Filter failure: NOTIONAL");
    case "UNKNOWN_SYMBOL":
      return e(-1121, "Invalid symbol.");
    case "UNKNOWN_ORDER":
      return e(-2011, "Unknown order sent.");
    default:
      return e(-2010, message || reason);
  }
}

export interface PlacedOrder {
  orderId: bigint;
  clientOrderId: string;
  commandId: string;
  transactTime: number;
  /** The engine's events of the command when `wait` was set ([] = timed out). */
  events?: ExecutionEvent[];
}

export class OrderEntry {
  constructor(private readonly o: OrderEntryOptions) {}

  get timeoutMs(): number {
    return this.o.responseTimeoutMs;
  }

  /** A new exchange-wide order id (PostgreSQL sequence). */
  nextOrderId(): Promise<bigint> {
    return this.o.orderIds.take();
  }

  /** Releases the wallet's hold of `orderId` (NOT_FOUND = nothing held). */
  release(accountId: string, orderId: bigint): Promise<void> {
    return this.o.wallet.release(accountId, orderId);
  }

  async publish(command: OrderCommand, spec: MarketSpec): Promise<void> {
    await this.o.eventLog.publish(ORDERS_TOPIC, [
      { key: spec.symbol, partition: spec.shard, value: OrderCommand.encode(command).finish() },
    ]);
  }

  /** Binance ORDERS limits per account; `counts` sees the window counts (also when over the limit). */
  async countOrder(accountId: string, counts?: (n10s: number, nDay: number) => void): Promise<void> {
    const t = this.o.now();
    const { store, per10s, perDay } = this.o.ordersLimit;
    const w10 = Math.floor(t / 10_000) * 10_000;
    const wDay = Math.floor(t / 86_400_000) * 86_400_000;
    const [n10, nDay] = await Promise.all([
      store.addWeight(`orders10s:${accountId}`, w10, 1, 10_000),
      store.addWeight(`orders1d:${accountId}`, wDay, 1, 86_400_000),
    ]);
    counts?.(n10, nDay);
    if (n10 > per10s) {
      throw new BinanceError(
        429,
        -1015,
        `Too many new orders; current limit is ${per10s} orders per 10 SECOND.`,
        {
          "retry-after": String(Math.max(1, Math.ceil((w10 + 10_000 - t) / 1000))),
        },
      );
    }
    if (nDay > perDay) {
      throw new BinanceError(429, -1015, `Too many new orders; current limit is ${perDay} orders per DAY.`, {
        "retry-after": String(Math.max(1, Math.ceil((wDay + 86_400_000 - t) / 1000))),
      });
    }
  }

  /** Funds to lock, in the wallet's minor units, and the engine budget (notional units) for BUYs. */
  async reservationOf(v: ValidOrder): Promise<{ asset: string; amount: bigint; budget: bigint }> {
    const { spec } = v;
    // A market listed after start may bring an asset the gateway has not loaded yet.
    const paying = v.side === Side.BUY ? spec.quoteAsset : spec.baseAsset;
    if (this.o.reference.decimalsOf(paying) === undefined) await this.o.reference.prepare([], [], [paying]);
    if (v.side === Side.BUY) {
      const d = this.o.reference.decimalsOf(spec.quoteAsset);
      if (d === undefined) throw insufficientFunds();
      let notional: bigint;
      if (v.quoteOrderQty > 0n) notional = v.quoteOrderQty;
      else if (v.price > 0n) notional = v.price * v.quantity;
      else if (v.type === OrderType.MARKET) notional = await this.walk(spec, v.quantity);
      else
        notional = (v.stopPrice * v.quantity * BigInt(10_000 + this.o.stopBuyHeadroomBps) + 9_999n) / 10_000n;
      const amount = quoteMinor(spec, notional, d).ceil || 1n;
      return { asset: spec.quoteAsset, amount, budget: notionalOf(spec, amount, d) || 1n };
    }
    const d = this.o.reference.decimalsOf(spec.baseAsset);
    if (d === undefined) throw insufficientFunds();
    const quantity = v.quoteOrderQty > 0n ? await this.walkQty(spec, v.quoteOrderQty) : v.quantity;
    return { asset: spec.baseAsset, amount: baseMinor(spec, quantity, d).ceil || 1n, budget: 0n };
  }

  /** What a resting limit order of `quantity` at `price` holds (wallet minor units of the paying asset). */
  holdOf(spec: MarketSpec, side: Side, price: bigint, quantity: bigint): { asset: string; amount: bigint } {
    const asset = side === Side.BUY ? spec.quoteAsset : spec.baseAsset;
    const d = this.o.reference.decimalsOf(asset);
    if (d === undefined) throw insufficientFunds();
    const amount =
      side === Side.BUY ? quoteMinor(spec, price * quantity, d).ceil : baseMinor(spec, quantity, d).ceil;
    return { asset, amount };
  }

  /** Cost (notional units) of buying `quantity` from the current asks (what the book holds of it). */
  private async walk(spec: MarketSpec, quantity: bigint): Promise<bigint> {
    const book = await this.o.books.getOrderBook(spec.symbol, 5_000);
    let left = quantity;
    let cost = 0n;
    for (const level of book.asks) {
      if (left <= 0n) break;
      let q = left;
      if (level.quantity < q) q = level.quantity;
      cost += q * level.price;
      left -= q;
    }
    return cost;
  }

  /** Base quantity a SELL by quoteOrderQty needs at the current bids (plus one step). */
  private async walkQty(spec: MarketSpec, quoteQty: bigint): Promise<bigint> {
    const book = await this.o.books.getOrderBook(spec.symbol, 5_000);
    let left = quoteQty;
    let quantity = 0n;
    for (const level of book.bids) {
      if (left <= 0n) break;
      const levelQuote = level.price * level.quantity;
      const take = levelQuote < left ? level.quantity : (left + level.price - 1n) / level.price;
      quantity += take;
      left -= take * level.price;
    }
    return quantity + spec.stepSize;
  }

  /**
   * Reserves `amount` of `asset` for `orderId` behind a durable og_reservations row (the reconciler's
   * safety net, group-committed with concurrent orders' rows); a refused reservation drops the row
   * and rethrows.
   */
  async reserve(accountId: string, symbol: string, asset: string, amount: bigint, orderId: bigint) {
    await this.o.reservations.add(orderId, accountId, symbol);
    try {
      await this.o.wallet.reserve(accountId, asset, amount, orderId);
    } catch (error) {
      void this.forget(orderId);
      throw error;
    }
  }

  /**
   * Drops the og_reservations row of an order (it reached the engine or holds nothing). Batched and
   * off the order's critical path: a lost delete only leaves a row the reconciler drops later.
   */
  forget(orderId: bigint): Promise<void> {
    return this.o.reservations.forget(orderId);
  }

  /** Releases what the wallet still holds for an order that never reached the engine, then forgets it. */
  async releaseUnpublished(accountId: string, orderId: bigint): Promise<void> {
    await this.o.wallet
      .release(accountId, orderId)
      .then(() => this.forget(orderId))
      .catch(() => {}); // the reconciler releases it later (the og_reservations row stays)
  }

  /**
   * Places a validated order: order id from the sequence → og_reservations → Wallet.Reserve → publish
   * (released again when publishing fails) → row dropped (not awaited). `wait` also waits for the
   * engine's events. `beforePublish` runs once the order id is known, before the command can reach the
   * engine; when it returns a promise, publishing waits for it (the market-maker session publishes its
   * orders in message order). `published` runs as soon as the publish call is made, before it is durable.
   */
  async place(
    accountId: string,
    v: ValidOrder,
    opts: {
      wait: boolean;
      beforePublish?: (orderId: bigint, commandId: string) => void | Promise<void>;
      /** The command id (default `og-<orderId>`); the market-maker session tags its commands. */
      commandId?: (orderId: bigint) => string;
      published?: () => void;
    },
  ): Promise<PlacedOrder> {
    const { spec } = v;
    const { asset, amount, budget } = await this.reservationOf(v);
    // More than the ledger can hold (int64) can never be covered.
    if (amount > INT64_MAX || budget > MAX_SAFE) throw insufficientFunds();
    const orderId = await this.o.orderIds.take();
    const clientOrderId = v.clientOrderId ?? `x-${randomToken(20)}`;
    const t = this.o.now();
    await this.reserve(accountId, spec.symbol, asset, amount, orderId);
    const commandId = opts.commandId?.(orderId) ?? `og-${orderId}`;
    const before = opts.beforePublish?.(orderId, commandId);
    if (before) await before;
    const waiting = opts.wait ? this.o.pending.wait(commandId, this.o.responseTimeoutMs) : undefined;
    const command: OrderCommand = {
      commandId,
      timeMs: BigInt(t),
      symbol: spec.symbol,
      command: {
        $case: "place",
        value: {
          orderId,
          accountId,
          clientOrderId,
          side: v.side,
          type: v.type,
          timeInForce: v.timeInForce,
          price: v.price,
          quantity: v.quantity,
          quoteOrderQty: v.quoteOrderQty,
          stopPrice: v.stopPrice,
          selfTradePrevention: v.stp,
          reserved: budget,
        },
      },
    };
    try {
      const publishing = this.publish(command, spec);
      opts.published?.();
      await publishing;
    } catch (error) {
      this.o.pending.cancel(commandId);
      this.o.logger.error(
        { err: error, orderId: orderId.toString() },
        "publishing an order failed; releasing",
      );
      await this.releaseUnpublished(accountId, orderId);
      throw Object.assign(errors.disconnected(), { cause: error });
    }
    void this.forget(orderId);
    return {
      orderId,
      clientOrderId,
      commandId,
      transactTime: t,
      events: waiting ? await waiting : undefined,
    };
  }

  /**
   * Publishes a command that changes existing orders (cancel, mass cancel, replace) under `commandId`;
   * resolves with its events ([] after the response timeout) when `wait` is set.
   */
  async command(
    spec: MarketSpec,
    commandId: string,
    command: OrderCommand["command"],
    wait = true,
  ): Promise<ExecutionEvent[]> {
    const waiting = wait ? this.o.pending.wait(commandId, this.o.responseTimeoutMs) : undefined;
    try {
      await this.publish({ commandId, timeMs: BigInt(this.o.now()), symbol: spec.symbol, command }, spec);
    } catch (error) {
      this.o.pending.cancel(commandId);
      throw Object.assign(errors.disconnected(), { cause: error });
    }
    return waiting ? await waiting : [];
  }

  /** Events of one command that concern `orderId`, with the fills and commissions of that order. */
  eventsFor(spec: MarketSpec, events: ExecutionEvent[], orderId: bigint): OrderEvents {
    const out: OrderEvents = { fills: [], transactTime: Number(events[0]?.header?.timeMs ?? this.o.now()) };
    const setState = (s: OrderState | undefined, time: number) => {
      if (s && s.orderId === orderId) out.state = rowFromState(spec.symbol, s, time);
    };
    for (const e of events) {
      const time = Number(e.header?.timeMs ?? 0n);
      const body = e.event;
      switch (body?.$case) {
        case "rejected":
          if (body.value.order?.orderId === orderId || body.value.order?.orderId === 0n) {
            out.rejected = { reason: body.value.reason, message: body.value.message };
          }
          break;
        case "accepted":
        case "cancelled":
        case "expired":
        case "triggered":
          setState(body.value.order, time);
          break;
        case "trade": {
          const t = body.value;
          setState(t.maker, time);
          setState(t.taker, time);
          const mine = t.taker?.orderId === orderId ? false : t.maker?.orderId === orderId ? true : undefined;
          const own = mine ? t.maker : t.taker;
          if (mine !== undefined && own) {
            const isBuyer = mine === t.buyerIsMaker;
            const c = commissionOf(
              spec,
              t.price,
              t.quantity,
              isBuyer,
              mine,
              // Fetched by the projection for this batch: the rates og_trades records too.
              this.o.reference.cachedFees(own.accountId, spec.symbol, time),
              this.o.reference.decimalsOf,
            );
            out.fills.push({
              symbol: spec.symbol,
              tradeId: t.tradeId,
              orderId,
              isBuyer,
              isMaker: mine,
              price: t.price,
              quantity: t.quantity,
              commission: c.amount,
              commissionAsset: c.asset,
              commissionDecimals: c.decimals,
              timeMs: time,
            });
          }
          break;
        }
        default:
          break;
      }
    }
    return out;
  }
}
