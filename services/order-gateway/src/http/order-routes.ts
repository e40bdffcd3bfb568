/**
 * Binance Spot v3 SIGNED endpoints under /api/v3: order entry (POST/DELETE /order, POST /order/test,
 * DELETE /openOrders) and user data (GET /order, /openOrders, /allOrders, /account, /myTrades).
 *
 * POST /order (the hot path): authenticate → ORDERS limit → validate against the market's filters →
 * order id from the PostgreSQL sequence → og_reservations row → Wallet.Reserve → publish the
 * OrderCommand to orders.v1 (partition = the market's shard, key = symbol) → ACK once durable, or
 * RESULT/FULL once the engine's events for the command came back through executions.v1.
 */
import type { Logger } from "@excraft/platform";
import { type MarketSpec, OrderType, TimeInForce } from "@excraft/proto";
import type { FastifyPluginAsync, FastifyRequest } from "fastify";
import type pg from "pg";
import { formatUnits } from "../decimal.ts";
import { BinanceError, errors, SYMBOL_PATTERN } from "../errors.ts";
import { type ApiKeyStore, type Permission, randomToken } from "../keys/api-keys.ts";
import type { MarketRegistry } from "../markets.ts";
import type { WalletPort } from "../orders/backends.ts";
import {
  filterFailure,
  MAX_SAFE,
  type OrderEntry,
  rejectError,
  responseTimeout,
  unknownOrder,
  type ValidOrder,
} from "../orders/order-entry.ts";
import { OrderQueries } from "../orders/queries.ts";
import { type FeeRates, type Parsed, parseDecimal } from "../orders/units.ts";
import {
  fillJson,
  orderCore,
  orderJson,
  resultJson,
  rowFromState,
  SIDE_NAMES,
  STP_NAMES,
  TIF_NAMES,
  TYPE_NAMES,
  tradeJson,
} from "../orders/views.ts";
import type { WalletReference } from "../orders/wallet-reference.ts";
import { bigIntOf, intOf, required, str } from "./params.ts";
import { authenticate, type Params } from "./signed.ts";

export { ORDERS_TOPIC, type OrdersLimit, type ValidOrder } from "../orders/order-entry.ts";

export interface OrderRoutesOptions {
  markets: MarketRegistry;
  keys: ApiKeyStore;
  wallet: WalletPort;
  /** The order core shared with the market-maker session (reservation, publish, engine answers). */
  entry: OrderEntry;
  pool: pg.Pool;
  logger: Logger;
  /** The wallet's asset decimals and the fee rates each account pays (per-account overrides applied). */
  reference: WalletReference;
  now: () => number;
}

const CLIENT_ID_PATTERN = "^[\\.A-Z\\:/a-z0-9_-]{1,36}$";
const CLIENT_ID_RE = new RegExp(CLIENT_ID_PATTERN);

export { unknownOrder };
export const noSuchOrder = () => new BinanceError(400, -2013, "Order does not exist.");
const notRequired = (p: string) => new BinanceError(400, -1106, `Parameter '${p}' sent when not required.`);
const eitherOrderId = () =>
  new BinanceError(
    400,
    -1102,
    "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
  );

// ------------------------------------------------------------------------------------ parameters

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

export function checkPrice(spec: MarketSpec, p: Parsed): void {
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
export function checkQty(spec: MarketSpec, q: Parsed): void {
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

/** A rate in basis points as Binance's decimal fraction ("0.00100000" for 10 bps). */
const rate = (bps: number) => formatUnits(BigInt(bps), 4);

/**
 * One maker/taker pair for GET /account, which has no symbol: the rates most of the account's markets
 * have (an account-wide override makes them all alike); per market: GET /account/commission.
 */
function accountWide(rates: (FeeRates & { symbol: string })[]): FeeRates {
  const count = new Map<string, { f: FeeRates; n: number }>();
  for (const r of rates) {
    const k = `${r.makerBps}/${r.takerBps}`;
    const c = count.get(k) ?? { f: { makerBps: r.makerBps, takerBps: r.takerBps }, n: 0 };
    c.n++;
    count.set(k, c);
  }
  let best: { f: FeeRates; n: number } | undefined;
  for (const c of count.values()) if (!best || c.n > best.n) best = c;
  return best?.f ?? { makerBps: 0, takerBps: 0 };
}

export const orderRoutes: FastifyPluginAsync<OrderRoutesOptions> = async (app, o) => {
  const queries = new OrderQueries(o.pool);
  const signed = (request: FastifyRequest, permission: Permission) =>
    authenticate(request, permission, { keys: o.keys, now: o.now });

  // ---------------------------------------------------------------- POST /order, /order/test

  app.post("/order/test", { config: { weight: () => 1 } }, async (request) => {
    const { key, params } = await signed(request, "trade");
    const v = validateOrder(o.markets, params);
    if (params.get("computeCommissionRates") === "true") {
      const f = await o.reference.fees(key.accountId, v.spec.symbol);
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
    await o.entry.countOrder(key.accountId, (n10, nDay) => {
      reply.header("X-MBX-ORDER-COUNT-10S", String(n10));
      reply.header("X-MBX-ORDER-COUNT-1D", String(nDay));
    });
    const { spec } = v;
    const placed = await o.entry.place(key.accountId, v, { wait: v.respType !== "ACK" });
    const { orderId, events } = placed;
    if (events === undefined) {
      return {
        symbol: spec.symbol,
        orderId: Number(orderId),
        orderListId: -1,
        clientOrderId: placed.clientOrderId,
        transactTime: placed.transactTime,
      };
    }
    if (events.length === 0) throw responseTimeout();
    const r = o.entry.eventsFor(spec, events, orderId);
    if (r.rejected) throw rejectError(r.rejected.reason, r.rejected.message);
    if (!r.state) throw responseTimeout();
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
    const events = await o.entry.command(spec, commandId, {
      $case: "cancel",
      value: {
        accountId: key.accountId,
        orderId: target ?? 0n,
        clientOrderId: target === undefined ? (origClientOrderId ?? "") : "",
      },
    });
    if (events.length === 0) throw responseTimeout();
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
    const events = await o.entry.command(spec, commandId, {
      $case: "massCancel",
      value: { accountId: key.accountId },
    });
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

  app.get("/account/commission", { config: { weight: () => 20 } }, async (request) => {
    const { key, params } = await signed(request, "read");
    const spec = marketOf(o.markets, params);
    const f = await o.reference.fees(key.accountId, spec.symbol);
    const zero = { maker: rate(0), taker: rate(0), buyer: rate(0), seller: rate(0) };
    return {
      symbol: spec.symbol,
      standardCommission: {
        maker: rate(f.makerBps),
        taker: rate(f.takerBps),
        buyer: rate(0),
        seller: rate(0),
      },
      specialCommission: zero,
      taxCommission: zero,
      discount: { enabledForAccount: false, enabledForSymbol: false, discountAsset: "", discount: rate(0) },
    };
  });

  app.get("/account", { config: { weight: () => 20 } }, async (request) => {
    const { key, params } = await signed(request, "read");
    const omitZero = str(params, "omitZeroBalances") === "true";
    const [balances, f] = await Promise.all([
      o.wallet.balances(key.accountId),
      o.reference.accountFees(key.accountId).then(accountWide),
    ]);
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
          const d = o.reference.decimalsOf(b.asset) ?? 8;
          return { asset: b.asset, free: formatUnits(b.free, d), locked: formatUnits(b.locked, d) };
        }),
      permissions: ["SPOT"],
      uid: key.accountId,
    };
  });
};
