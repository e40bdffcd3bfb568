/**
 * FIX vocabulary of the market-maker session: ExecType (150) / OrdStatus (39) codes, ErrorDetail for
 * refused requests, and a NewOrderSingle as the REST parameters `validateOrder` checks (one validation
 * for both edges).
 */
import {
  type ErrorDetail,
  type NewOrderSingle,
  OrderStatus,
  OrderType,
  SelfTradePrevention,
  Side,
  TimeInForce,
} from "@excraft/proto";
import { BinanceError } from "../errors.ts";
import type { Params } from "../http/signed.ts";
import { EngineRejectError } from "../orders/order-entry.ts";

/** FIX ExecType (150). */
export const ExecType = {
  NEW: "0",
  CANCELED: "4",
  REPLACED: "5",
  REJECTED: "8",
  EXPIRED: "C",
  TRADE: "F",
  TRIGGERED: "L",
} as const;

/** FIX OrdStatus (39) of an engine order status. */
export function ordStatusOf(status: OrderStatus): string {
  switch (status) {
    case OrderStatus.NEW:
      return "0";
    case OrderStatus.PARTIALLY_FILLED:
      return "1";
    case OrderStatus.FILLED:
      return "2";
    case OrderStatus.CANCELED:
      return "4";
    case OrderStatus.REJECTED:
      return "8";
    case OrderStatus.EXPIRED:
    case OrderStatus.EXPIRED_IN_MATCH:
      return "C";
    case OrderStatus.PENDING_NEW:
      return "A";
    default:
      return "0";
  }
}

export const isOpenStatus = (status: OrderStatus) =>
  status === OrderStatus.NEW || status === OrderStatus.PARTIALLY_FILLED || status === OrderStatus.PENDING_NEW;

const SIDES: Partial<Record<Side, string>> = { [Side.BUY]: "BUY", [Side.SELL]: "SELL" };
const TYPES: Partial<Record<OrderType, string>> = {
  [OrderType.LIMIT]: "LIMIT",
  [OrderType.MARKET]: "MARKET",
  [OrderType.LIMIT_MAKER]: "LIMIT_MAKER",
  [OrderType.STOP_LOSS]: "STOP_LOSS",
  [OrderType.STOP_LOSS_LIMIT]: "STOP_LOSS_LIMIT",
  [OrderType.TAKE_PROFIT]: "TAKE_PROFIT",
  [OrderType.TAKE_PROFIT_LIMIT]: "TAKE_PROFIT_LIMIT",
};
const TIFS: Partial<Record<TimeInForce, string>> = {
  [TimeInForce.GTC]: "GTC",
  [TimeInForce.IOC]: "IOC",
  [TimeInForce.FOK]: "FOK",
};
const STPS: Partial<Record<SelfTradePrevention, string>> = {
  [SelfTradePrevention.NONE]: "NONE",
  [SelfTradePrevention.EXPIRE_TAKER]: "EXPIRE_TAKER",
  [SelfTradePrevention.EXPIRE_MAKER]: "EXPIRE_MAKER",
  [SelfTradePrevention.EXPIRE_BOTH]: "EXPIRE_BOTH",
};

/**
 * A NewOrderSingle as the parameters of POST /api/v3/order. An unset time_in_force of a LIMIT /
 * *_LIMIT order is GTC (FIX's default); an unrecognized enum value stays as its number (refused).
 */
export function paramsOf(m: NewOrderSingle): Params {
  const p: Params = new Map();
  const set = (k: string, v: string | undefined) => {
    if (v !== undefined && v !== "") p.set(k, v);
  };
  set("symbol", m.symbol);
  set("side", m.side === Side.UNSPECIFIED ? undefined : (SIDES[m.side] ?? String(m.side)));
  set("type", m.ordType === OrderType.UNSPECIFIED ? undefined : (TYPES[m.ordType] ?? String(m.ordType)));
  const needsTif =
    m.ordType === OrderType.LIMIT ||
    m.ordType === OrderType.STOP_LOSS_LIMIT ||
    m.ordType === OrderType.TAKE_PROFIT_LIMIT;
  if (m.timeInForce !== TimeInForce.UNSPECIFIED)
    set("timeInForce", TIFS[m.timeInForce] ?? String(m.timeInForce));
  else if (needsTif) set("timeInForce", "GTC");
  set("price", m.price);
  set("quantity", m.orderQty);
  set("stopPrice", m.stopPx);
  set("newClientOrderId", m.clOrdId);
  if (m.selfTradePrevention !== SelfTradePrevention.UNSPECIFIED) {
    set("selfTradePreventionMode", STPS[m.selfTradePrevention] ?? String(m.selfTradePrevention));
  }
  return p;
}

const FIELDS: Record<string, string> = {
  symbol: "symbol",
  side: "side",
  type: "ord_type",
  timeInForce: "time_in_force",
  price: "price",
  quantity: "order_qty",
  quoteOrderQty: "order_qty",
  stopPrice: "stop_px",
  newClientOrderId: "cl_ord_id",
  selfTradePreventionMode: "self_trade_prevention",
};

export const detail = (code: string, message: string, field = ""): ErrorDetail => ({ code, message, field });

/** A refused request's error as the session's ErrorDetail (stable code, Binance text, proto field). */
export function errorDetailOf(error: unknown): ErrorDetail {
  if (error instanceof EngineRejectError) return detail(error.reason, error.message);
  if (!(error instanceof BinanceError)) return detail("INTERNAL", "internal error");
  const param = /'([A-Za-z]+)'/.exec(error.message)?.[1];
  const field = (param && FIELDS[param]) ?? "";
  switch (error.code) {
    case -1013:
      return detail(
        "FILTER_FAILURE",
        error.message,
        /PRICE/.test(error.message) ? "price" : /LOT/.test(error.message) ? "order_qty" : "",
      );
    case -1121:
      return detail("UNKNOWN_SYMBOL", error.message, "symbol");
    case -1102:
      return detail("MISSING_FIELD", error.message, field);
    case -1115:
      return detail("INVALID_FIELD", error.message, "time_in_force");
    case -1116:
      return detail("INVALID_FIELD", error.message, "ord_type");
    case -1117:
      return detail("INVALID_FIELD", error.message, "side");
    case -1100:
    case -1106:
    case -1111:
    case -1130:
      return detail("INVALID_FIELD", error.message, field);
    case -1015:
      return detail("TOO_MANY_ORDERS", error.message);
    case -2010:
      return /insufficient balance/.test(error.message)
        ? detail("INSUFFICIENT_BALANCE", error.message)
        : detail("REJECTED", error.message);
    case -2011:
      return detail("UNKNOWN_ORDER", error.message);
    case -1001:
    case -1007:
      return detail("UNAVAILABLE", error.message);
    default:
      return detail("REJECTED", error.message, field);
  }
}
