/**
 * Binance Spot v3 SIGNED endpoints under /api/v3: order entry (POST/DELETE /order, POST /order/test,
 * DELETE /openOrders) and user data (GET /order, /openOrders, /allOrders, /account, /myTrades).
 *
 * POST /order (the hot path): authenticate → ORDERS limit → validate against the market's filters →
 * order id from the PostgreSQL sequence → og_reservations row → Wallet.Reserve → publish the
 * OrderCommand to orders.v1 (partition = the market's shard, key = symbol) → ACK once durable, or
 * RESULT/FULL once the engine's events for the command came back through executions.v1.
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
  TimeInForce,
} from "@excraft/proto";
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import type pg from "pg";
import { formatUnits } from "../decimal.ts";
import type { OrderBookSource } from "../engine/order-book-source.ts";
import { BinanceError, errors, INTEGER_PATTERN, SYMBOL_PATTERN } from "../errors.ts";
import { type ApiKeyStore, type Permission, randomToken } from "../keys/api-keys.ts";
import type { MarketRegistry } from "../markets.ts";
import type { WalletPort } from "../orders/backends.ts";
import type { OrderIdAllocator } from "../orders/order-ids.ts";
import type { PendingCommands } from "../orders/projection.ts";
import { OrderQueries } from "../orders/queries.ts";
import {
  baseMinor,
  commissionOf,
  type FeeRates,
  notionalOf,
  type Parsed,
  parseDecimal,
  quoteMinor,
} from "../orders/units.ts";
import {
  fillJson,
  type OrderRow,
  orderCore,
  orderJson,
  resultJson,
  rowFromState,
  SIDE_NAMES,
  STP_NAMES,
  TIF_NAMES,
  type TradeRow,
  TYPE_NAMES,
  tradeJson,
} from "../orders/views.ts";
import type { RateLimitStore } from "./rate-limit.ts";
import { authenticate, type Params } from "./signed.ts";

export const ORDERS_TOPIC = "orders.v1";

export interface OrdersLimit {
  store: RateLimitStore;
  /** Binance ORDERS limits (per account): default 100 per 10 s and 200 000 per day. */
  per10s: number;
  perDay: number;
}

export interface OrderRoutesOptions {
  markets: MarketRegistry;
  keys: ApiKeyStore;
  wallet: WalletPort;
  books: OrderBookSource;
  eventLog: EventLog;
  orderIds: OrderIdAllocator;
  pending: PendingCommands;
  pool: pg.Pool;
  logger: Logger;
  ordersLimit: OrdersLimit;
  feesOf: (symbol: string) => FeeRates;
  decimalsOf: (asset: string) => number | undefined;
  defaultFees: FeeRates;
  /** How long RESULT/FULL and DELETE wait for the engine (default 10 s). */
  responseTimeoutMs: number;
  /** Extra quote reserved for a STOP_LOSS / TAKE_PROFIT (market) BUY over stopPrice × quantity (bps). */
  stopBuyHeadroomBps: number;
  now: () => number;
}

const CLIENT_ID_PATTERN = "^[\\.A-Z\\:/a-z0-9_-]{1,36}$";
const CLIENT_ID_RE = new RegExp(CLIENT_ID_PATTERN);
const INT_RE = /^[0-9]{1,20}$/;

export const unknownOrder = () => new BinanceError(400, -2011, "Unknown order sent.");
export const noSuchOrder = () => new BinanceError(400, -2013, "Order does not exist.");
const notRequired = (p: string) => new BinanceError(400, -1106, `Parameter '${p}' sent when not required.`);
const filterFailure = (f: string) => new BinanceError(400, -1013, `Filter failure: ${f}`);
const timeout = () =>
  new BinanceError(
    503,
    -1007,
    "Timeout waiting for response from backend server. Send status unknown; execution status unknown.",
  );
const eitherOrderId = () =>
  new BinanceError(
    400,
    -1102,
    "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
  );

/** Engine reject reason → Binance error. */
function rejectError(reason: string, message: string): BinanceError {
  switch (reason) {
    case "PRICE_FILTER":
      return filterFailure("PRICE_FILTER");
    case "LOT_SIZE":
      return filterFailure("LOT_SIZE");
    case "MIN_NOTIONAL":
      return filterFailure("NOTIONAL");
    case "UNKNOWN_SYMBOL":
      return errors.badSymbol();
    case "UNKNOWN_ORDER":
      return unknownOrder();
    default:
      return new BinanceError(400, -2010, message || reason);
  }
}

// ------------------------------------------------------------------------------------ parameters

function str(params: Params, name: string): string | undefined {
  const v = params.get(name);
  return v === undefined || v === "" ? undefined : v;
}
function required(params: Params, name: string): string {
  const v = str(params, name);
  if (v === undefined) throw errors.mandatory(name);
  return v;
}
function intOf(params: Params, name: string): number | undefined {
  const v = str(params, name);
  if (v === undefined) return undefined;
  if (!INT_RE.test(v) || !Number.isSafeInteger(Number(v))) throw errors.illegalChars(name, INTEGER_PATTERN);
  return Number(v);
}
function bigIntOf(params: Params, name: string): bigint | undefined {
  const v = str(params, name);
  if (v === undefined) return undefined;
  if (!INT_RE.test(v)) throw errors.illegalChars(name, INTEGER_PATTERN);
  return BigInt(v);
}
function limitOf(params: Params, fallback: number, max: number): number {
  const n = intOf(params, "limit");
  return n === undefined ? fallback : Math.min(Math.max(n, 1), max);
}

function marketOf(markets: MarketRegistry, params: Params): MarketSpec {
  const symbol = required(params, "symbol");
  if (!new RegExp(SYMBOL_PATTERN).test(symbol)) throw errors.illegalChars("symbol", SYMBOL_PATTERN);
  const spec = markets.get(symbol);
  if (!spec) throw errors.badSymbol();
  return spec;
}

function decimalParam(params: Params, name: string, scale: number): Parsed | undefined {
  const v = str(params, name);
  return v === undefined ? undefined : parseDecimal(v, scale, name);
}

// ------------------------------------------------------------------------------------ validation

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

/** The engine carries prices and quantities as safe integers. */
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const INT64_MAX = (1n << 63n) - 1n;

function checkPrice(spec: MarketSpec, p: Parsed): void {
  const v = p.units;
  if (
    !p.exact ||
    v > MAX_SAFE ||
    v < spec.minPrice ||
    (spec.maxPrice > 0n && v > spec.maxPrice) ||
    v % spec.tickSize !== 0n
  ) {
    throw filterFailure("PRICE_FILTER");
  }
}
function checkQty(spec: MarketSpec, q: Parsed): void {
  const v = q.units;
  if (
    !q.exact ||
    v > MAX_SAFE ||
    v < spec.minQty ||
    (spec.maxQty > 0n && v > spec.maxQty) ||
    v % spec.stepSize !== 0n
  ) {
    throw filterFailure("LOT_SIZE");
  }
}

/** Parses and checks a new order against the market's filters; throws Binance errors, changes nothing. */
export function validateOrder(markets: MarketRegistry, params: Params): ValidOrder {
  const spec = marketOf(markets, params);
  const sideText = required(params, "side");
  const side = SIDE_NAMES[sideText];
  if (side === undefined) throw new BinanceError(400, -1117, "Invalid side.");
  const typeText = required(params, "type");
  const type = TYPE_NAMES[typeText];
  if (type === undefined) throw new BinanceError(400, -1116, "Invalid orderType.");
  const tifText = str(params, "timeInForce");
  const clientOrderId = str(params, "newClientOrderId");
  if (clientOrderId !== undefined && !CLIENT_ID_RE.test(clientOrderId)) {
    throw errors.illegalChars("newClientOrderId", CLIENT_ID_PATTERN);
  }
  const stpText = str(params, "selfTradePreventionMode");
  const stp = stpText === undefined ? 0 : STP_NAMES[stpText];
  if (stp === undefined) {
    throw errors.illegalChars("selfTradePreventionMode", "NONE, EXPIRE_TAKER, EXPIRE_MAKER, EXPIRE_BOTH");
  }
  const respText = str(params, "newOrderRespType");
  if (respText !== undefined && !["ACK", "RESULT", "FULL"].includes(respText)) {
    throw errors.illegalChars("newOrderRespType", "ACK, RESULT, FULL");
  }
  const icebergQty = str(params, "icebergQty");
  if (icebergQty !== undefined && parseDecimal(icebergQty, spec.quantityScale, "icebergQty").units !== 0n) {
    throw new BinanceError(400, -1013, "Filter failure: ICEBERG_PARTS");
  }
  if (str(params, "trailingDelta") !== undefined) throw notRequired("trailingDelta");

  const priced = type !== OrderType.MARKET && type !== OrderType.STOP_LOSS && type !== OrderType.TAKE_PROFIT;
  const stopped =
    type === OrderType.STOP_LOSS ||
    type === OrderType.STOP_LOSS_LIMIT ||
    type === OrderType.TAKE_PROFIT ||
    type === OrderType.TAKE_PROFIT_LIMIT;
  const needsTif =
    type === OrderType.LIMIT || type === OrderType.STOP_LOSS_LIMIT || type === OrderType.TAKE_PROFIT_LIMIT;

  let timeInForce = TimeInForce.GTC;
  if (needsTif) {
    if (tifText === undefined) throw errors.mandatory("timeInForce");
    const tif = TIF_NAMES[tifText];
    if (tif === undefined) throw new BinanceError(400, -1115, "Invalid timeInForce.");
    timeInForce = tif;
  } else if (tifText !== undefined) {
    throw notRequired("timeInForce");
  }

  let price: Parsed | undefined;
  if (priced) {
    if (str(params, "price") === undefined) throw errors.mandatory("price");
    price = decimalParam(params, "price", spec.priceScale);
  } else if (str(params, "price") !== undefined) {
    throw notRequired("price");
  }
  let stopPrice: Parsed | undefined;
  if (stopped) {
    if (str(params, "stopPrice") === undefined) throw errors.mandatory("stopPrice");
    stopPrice = decimalParam(params, "stopPrice", spec.priceScale);
  } else if (str(params, "stopPrice") !== undefined) {
    throw notRequired("stopPrice");
  }
  let quantity: Parsed | undefined;
  let quoteOrderQty: Parsed | undefined;
  if (type === OrderType.MARKET) {
    const hasQty = str(params, "quantity") !== undefined;
    const hasQuote = str(params, "quoteOrderQty") !== undefined;
    if (!hasQty && !hasQuote) {
      throw new BinanceError(
        400,
        -1102,
        "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!",
      );
    }
    if (hasQty && hasQuote) throw notRequired("quoteOrderQty");
    quantity = decimalParam(params, "quantity", spec.quantityScale);
    quoteOrderQty = decimalParam(params, "quoteOrderQty", spec.priceScale + spec.quantityScale);
  } else {
    if (str(params, "quoteOrderQty") !== undefined) throw notRequired("quoteOrderQty");
    if (str(params, "quantity") === undefined) throw errors.mandatory("quantity");
    quantity = decimalParam(params, "quantity", spec.quantityScale);
  }

  if (price) checkPrice(spec, price);
  if (stopPrice) checkPrice(spec, stopPrice);
  if (quantity) checkQty(spec, quantity);
  if (
    quoteOrderQty &&
    (!quoteOrderQty.exact || quoteOrderQty.units <= 0n || quoteOrderQty.units > MAX_SAFE)
  ) {
    throw new BinanceError(400, -1013, "Invalid quoteOrderQty.");
  }
  const notionalPrice = price?.units ?? stopPrice?.units;
  if (quantity && notionalPrice !== undefined && notionalPrice * quantity.units < spec.minNotional) {
    throw filterFailure("NOTIONAL");
  }
  if (quoteOrderQty && quoteOrderQty.units < spec.minNotional) throw filterFailure("NOTIONAL");

  const respType = (respText ??
    (type === OrderType.LIMIT || type === OrderType.MARKET ? "FULL" : "ACK")) as ValidOrder["respType"];
  return {
    spec,
    side,
    type,
    timeInForce,
    price: price?.units ?? 0n,
    quantity: quantity?.units ?? 0n,
    quoteOrderQty: quoteOrderQty?.units ?? 0n,
    stopPrice: stopPrice?.units ?? 0n,
    stp,
    clientOrderId,
    respType,
  };
}

// ------------------------------------------------------------------------------------ plugin

interface OrderEvents {
  rejected?: { reason: string; message: string };
  state?: OrderRow;
  fills: TradeRow[];
  transactTime: number;
}

export const orderRoutes: FastifyPluginAsync<OrderRoutesOptions> = async (app, o) => {
  const queries = new OrderQueries(o.pool);
  const signed = (request: FastifyRequest, permission: Permission) =>
    authenticate(request, permission, { keys: o.keys, now: o.now });

  /** Events of one command that concern `orderId` (or every order of the account when undefined). */
  function eventsFor(spec: MarketSpec, events: ExecutionEvent[], orderId: bigint): OrderEvents {
    const out: OrderEvents = { fills: [], transactTime: Number(events[0]?.header?.timeMs ?? o.now()) };
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
          if (mine !== undefined) {
            const isBuyer = mine === t.buyerIsMaker;
            const c = commissionOf(
              spec,
              t.price,
              t.quantity,
              isBuyer,
              mine,
              o.feesOf(spec.symbol),
              o.decimalsOf,
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

  async function publish(command: OrderCommand, spec: MarketSpec): Promise<void> {
    await o.eventLog.publish(ORDERS_TOPIC, [
      { key: spec.symbol, partition: spec.shard, value: OrderCommand.encode(command).finish() },
    ]);
  }

  /** Binance ORDERS limits per account; sets X-MBX-ORDER-COUNT-* headers. */
  async function countOrder(accountId: string, reply: FastifyReply): Promise<void> {
    const t = o.now();
    const { store, per10s, perDay } = o.ordersLimit;
    const w10 = Math.floor(t / 10_000) * 10_000;
    const wDay = Math.floor(t / 86_400_000) * 86_400_000;
    const [n10, nDay] = await Promise.all([
      store.addWeight(`orders10s:${accountId}`, w10, 1, 10_000),
      store.addWeight(`orders1d:${accountId}`, wDay, 1, 86_400_000),
    ]);
    reply.header("X-MBX-ORDER-COUNT-10S", String(n10));
    reply.header("X-MBX-ORDER-COUNT-1D", String(nDay));
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
  async function reservationOf(v: ValidOrder): Promise<{ asset: string; amount: bigint; budget: bigint }> {
    const { spec } = v;
    if (v.side === Side.BUY) {
      const d = o.decimalsOf(spec.quoteAsset);
      if (d === undefined) throw insufficientFundsAsset();
      let notional: bigint;
      if (v.quoteOrderQty > 0n) notional = v.quoteOrderQty;
      else if (v.price > 0n) notional = v.price * v.quantity;
      else if (v.type === OrderType.MARKET) notional = await walk(spec, "asks", v.quantity);
      else notional = (v.stopPrice * v.quantity * BigInt(10_000 + o.stopBuyHeadroomBps) + 9_999n) / 10_000n;
      const amount = quoteMinor(spec, notional, d).ceil || 1n;
      return { asset: spec.quoteAsset, amount, budget: notionalOf(spec, amount, d) || 1n };
    }
    const d = o.decimalsOf(spec.baseAsset);
    if (d === undefined) throw insufficientFundsAsset();
    const quantity = v.quoteOrderQty > 0n ? await walkQty(spec, v.quoteOrderQty) : v.quantity;
    return { asset: spec.baseAsset, amount: baseMinor(spec, quantity, d).ceil || 1n, budget: 0n };
  }
  const insufficientFundsAsset = () =>
    new BinanceError(400, -2010, "Account has insufficient balance for requested action.");

  /** Cost (notional units) of buying `quantity` from the current asks (what the book holds of it). */
  async function walk(spec: MarketSpec, side: "asks", quantity: bigint): Promise<bigint> {
    const book = await o.books.getOrderBook(spec.symbol, 5_000);
    let left = quantity;
    let cost = 0n;
    for (const level of book[side]) {
      if (left <= 0n) break;
      let q = left;
      if (level.quantity < q) q = level.quantity;
      cost += q * level.price;
      left -= q;
    }
    return cost;
  }
  /** Base quantity a SELL by quoteOrderQty needs at the current bids (plus one step). */
  async function walkQty(spec: MarketSpec, quoteQty: bigint): Promise<bigint> {
    const book = await o.books.getOrderBook(spec.symbol, 5_000);
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

  // ---------------------------------------------------------------- POST /order, /order/test

  app.post("/order/test", { config: { weight: () => 1 } }, async (request) => {
    const { params } = await signed(request, "trade");
    const v = validateOrder(o.markets, params);
    if (params.get("computeCommissionRates") === "true") {
      const f = o.feesOf(v.spec.symbol);
      const rate = (bps: number) => formatUnits(BigInt(bps), 4);
      return {
        standardCommissionForOrder: { maker: rate(f.makerBps), taker: rate(f.takerBps) },
        taxCommissionForOrder: { maker: rate(0), taker: rate(0) },
        discount: {
          enabledForAccount: false,
          enabledForSymbol: false,
          discountAsset: "",
          discount: rate(0),
        },
      };
    }
    return {};
  });

  app.post("/order", { config: { weight: () => 1 } }, async (request, reply) => {
    const { key, params } = await signed(request, "trade");
    const v = validateOrder(o.markets, params);
    await countOrder(key.accountId, reply);
    const { spec } = v;
    const { asset, amount, budget } = await reservationOf(v);
    // More than the ledger can hold (int64) can never be covered.
    if (amount > INT64_MAX || budget > MAX_SAFE) throw insufficientFundsAsset();
    const orderId = await o.orderIds.take();
    const clientOrderId = v.clientOrderId ?? `x-${randomToken(20)}`;
    const t = o.now();
    await o.pool.query(
      "insert into og_reservations (order_id, account_id, symbol, created_ms) values ($1, $2, $3, $4)",
      [orderId.toString(), key.accountId, spec.symbol, t],
    );
    try {
      await o.wallet.reserve(key.accountId, asset, amount, orderId);
    } catch (error) {
      await o.pool.query("delete from og_reservations where order_id = $1", [orderId.toString()]);
      throw error;
    }
    const commandId = `og-${orderId}`;
    const waiting = v.respType === "ACK" ? undefined : o.pending.wait(commandId, o.responseTimeoutMs);
    const command: OrderCommand = {
      commandId,
      timeMs: BigInt(t),
      symbol: spec.symbol,
      command: {
        $case: "place",
        value: {
          orderId,
          accountId: key.accountId,
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
      await publish(command, spec);
    } catch (error) {
      o.pending.cancel(commandId);
      o.logger.error({ err: error, orderId: orderId.toString() }, "publishing an order failed; releasing");
      // The reconciler releases it later if this fails too (the og_reservations row stays).
      await o.wallet
        .release(key.accountId, orderId)
        .then(() => o.pool.query("delete from og_reservations where order_id = $1", [orderId.toString()]))
        .catch(() => {});
      throw Object.assign(errors.disconnected(), { cause: error });
    }
    await o.pool.query("delete from og_reservations where order_id = $1", [orderId.toString()]);
    if (waiting === undefined) {
      return {
        symbol: spec.symbol,
        orderId: Number(orderId),
        orderListId: -1,
        clientOrderId,
        transactTime: t,
      };
    }
    const events = await waiting;
    if (events.length === 0) throw timeout();
    const r = eventsFor(spec, events, orderId);
    if (r.rejected) throw rejectError(r.rejected.reason, r.rejected.message);
    if (!r.state) throw timeout();
    const result = resultJson(spec, r.state, r.transactTime);
    return v.respType === "FULL" ? { ...result, fills: r.fills.map((f) => fillJson(spec, f)) } : result;
  });

  // ---------------------------------------------------------------- DELETE /order, /openOrders

  app.delete("/order", { config: { weight: () => 1 } }, async (request) => {
    const { key, params } = await signed(request, "trade");
    const spec = marketOf(o.markets, params);
    const orderId = bigIntOf(params, "orderId");
    const origClientOrderId = str(params, "origClientOrderId");
    if (orderId === undefined && origClientOrderId === undefined) throw eitherOrderId();
    const newClientOrderId = str(params, "newClientOrderId");
    if (newClientOrderId !== undefined && !CLIENT_ID_RE.test(newClientOrderId)) {
      throw errors.illegalChars("newClientOrderId", CLIENT_ID_PATTERN);
    }
    const known = await queries.order(key.accountId, spec.symbol, {
      orderId,
      clientOrderId: origClientOrderId,
    });
    if (known && ![1, 2, 8].includes(known.status)) throw unknownOrder();
    const target = known?.orderId ?? orderId;
    const commandId = `og-c-${target ?? origClientOrderId}-${randomToken(8)}`;
    const waiting = o.pending.wait(commandId, o.responseTimeoutMs);
    try {
      await publish(
        {
          commandId,
          timeMs: BigInt(o.now()),
          symbol: spec.symbol,
          command: {
            $case: "cancel",
            value: {
              accountId: key.accountId,
              orderId: target ?? 0n,
              clientOrderId: target === undefined ? (origClientOrderId ?? "") : "",
            },
          },
        },
        spec,
      );
    } catch (error) {
      o.pending.cancel(commandId);
      throw Object.assign(errors.disconnected(), { cause: error });
    }
    const events = await waiting;
    if (events.length === 0) throw timeout();
    const cancelled = events.find((e) => e.event?.$case === "cancelled");
    if (cancelled?.event?.$case !== "cancelled" || !cancelled.event.value.order) {
      const rejected = events.find((e) => e.event?.$case === "rejected");
      if (rejected?.event?.$case === "rejected") {
        throw rejectError(rejected.event.value.reason, rejected.event.value.message);
      }
      throw unknownOrder();
    }
    const time = Number(cancelled.header?.timeMs ?? 0n);
    const state = rowFromState(spec.symbol, cancelled.event.value.order, time);
    return {
      symbol: spec.symbol,
      origClientOrderId: state.clientOrderId,
      orderId: Number(state.orderId),
      orderListId: -1,
      clientOrderId: newClientOrderId ?? `x-${randomToken(20)}`,
      transactTime: time,
      ...orderCore(spec, state),
      selfTradePreventionMode: orderJson(spec, state).selfTradePreventionMode,
    };
  });

  app.delete("/openOrders", { config: { weight: () => 1 } }, async (request) => {
    const { key, params } = await signed(request, "trade");
    const spec = marketOf(o.markets, params);
    const open = await queries.openOrders(key.accountId, spec.symbol);
    if (open.length === 0) throw unknownOrder();
    const commandId = `og-m-${randomToken(16)}`;
    const waiting = o.pending.wait(commandId, o.responseTimeoutMs);
    try {
      await publish(
        {
          commandId,
          timeMs: BigInt(o.now()),
          symbol: spec.symbol,
          command: { $case: "massCancel", value: { accountId: key.accountId } },
        },
        spec,
      );
    } catch (error) {
      o.pending.cancel(commandId);
      throw Object.assign(errors.disconnected(), { cause: error });
    }
    const events = await waiting;
    const out = [];
    for (const e of events) {
      if (e.event?.$case !== "cancelled" || !e.event.value.order) continue;
      const state = rowFromState(spec.symbol, e.event.value.order, Number(e.header?.timeMs ?? 0n));
      out.push({
        symbol: spec.symbol,
        origClientOrderId: state.clientOrderId,
        orderId: Number(state.orderId),
        orderListId: -1,
        clientOrderId: `x-${randomToken(20)}`,
        transactTime: state.updatedMs,
        ...orderCore(spec, state),
        selfTradePreventionMode: orderJson(spec, state).selfTradePreventionMode,
      });
    }
    if (out.length === 0) throw unknownOrder();
    return out;
  });

  // ---------------------------------------------------------------- user data

  app.get("/order", { config: { weight: () => 4 } }, async (request) => {
    const { key, params } = await signed(request, "read");
    const spec = marketOf(o.markets, params);
    const orderId = bigIntOf(params, "orderId");
    const origClientOrderId = str(params, "origClientOrderId");
    if (orderId === undefined && origClientOrderId === undefined) throw eitherOrderId();
    const row = await queries.order(key.accountId, spec.symbol, {
      orderId,
      clientOrderId: origClientOrderId,
    });
    if (!row) throw noSuchOrder();
    return orderJson(spec, row);
  });

  app.get(
    "/openOrders",
    { config: { weight: (q) => (typeof q.symbol === "string" && q.symbol !== "" ? 6 : 80) } },
    async (request) => {
      const { key, params } = await signed(request, "read");
      const spec = str(params, "symbol") === undefined ? undefined : marketOf(o.markets, params);
      const rows = await queries.openOrders(key.accountId, spec?.symbol);
      return rows.flatMap((r) => {
        const s = o.markets.get(r.symbol);
        return s ? [orderJson(s, r)] : [];
      });
    },
  );

  app.get("/allOrders", { config: { weight: () => 20 } }, async (request) => {
    const { key, params } = await signed(request, "read");
    const spec = marketOf(o.markets, params);
    const startTime = intOf(params, "startTime");
    const endTime = intOf(params, "endTime");
    if (startTime !== undefined && endTime !== undefined && startTime > endTime) {
      throw new BinanceError(400, -1023, "Start time is greater than end time.");
    }
    const rows = await queries.allOrders(key.accountId, spec.symbol, {
      orderId: bigIntOf(params, "orderId"),
      startTime,
      endTime,
      limit: limitOf(params, 500, 1000),
    });
    return rows.map((r) => orderJson(spec, r));
  });

  app.get(
    "/myTrades",
    { config: { weight: (q) => (typeof q.orderId === "string" ? 5 : 20) } },
    async (request) => {
      const { key, params } = await signed(request, "read");
      const spec = marketOf(o.markets, params);
      const startTime = intOf(params, "startTime");
      const endTime = intOf(params, "endTime");
      if (startTime !== undefined && endTime !== undefined && startTime > endTime) {
        throw new BinanceError(400, -1023, "Start time is greater than end time.");
      }
      const orderId = bigIntOf(params, "orderId");
      const fromId = bigIntOf(params, "fromId");
      if (fromId !== undefined && (startTime !== undefined || endTime !== undefined)) throw errors.badCombo();
      const rows = await queries.trades(key.accountId, spec.symbol, {
        orderId,
        fromId,
        startTime,
        endTime,
        limit: limitOf(params, 500, 1000),
      });
      return rows.map((r) => tradeJson(spec, r));
    },
  );

  app.get("/account", { config: { weight: () => 20 } }, async (request) => {
    const { key, params } = await signed(request, "read");
    const omitZero = str(params, "omitZeroBalances") === "true";
    const balances = await o.wallet.balances(key.accountId);
    const f = o.defaultFees;
    const rate = (bps: number) => formatUnits(BigInt(bps), 4);
    return {
      makerCommission: f.makerBps,
      takerCommission: f.takerBps,
      buyerCommission: 0,
      sellerCommission: 0,
      commissionRates: { maker: rate(f.makerBps), taker: rate(f.takerBps), buyer: rate(0), seller: rate(0) },
      canTrade: key.permissions.includes("trade"),
      canWithdraw: key.permissions.includes("withdraw"),
      canDeposit: true,
      brokered: false,
      requireSelfTradePrevention: false,
      preventSor: false,
      updateTime: o.now(),
      accountType: "SPOT",
      balances: balances
        .filter((b) => !omitZero || b.free !== 0n || b.locked !== 0n)
        .sort((a, b) => (a.asset < b.asset ? -1 : a.asset > b.asset ? 1 : 0))
        .map((b) => {
          const d = o.decimalsOf(b.asset) ?? 8;
          return { asset: b.asset, free: formatUnits(b.free, d), locked: formatUnits(b.locked, d) };
        }),
      permissions: ["SPOT"],
      uid: key.accountId,
    };
  });
};
