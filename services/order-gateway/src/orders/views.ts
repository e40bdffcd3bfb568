/** Binance JSON shapes of orders and trades, from the projection rows or the engine's OrderState. */
import {
  type MarketSpec,
  type OrderState,
  OrderStatus,
  OrderType,
  SelfTradePrevention,
  Side,
  TimeInForce,
} from "@excraft/proto";
import { formatUnits } from "../decimal.ts";
import { price, qty, quote } from "../format.ts";

export interface OrderRow {
  orderId: bigint;
  symbol: string;
  accountId: string;
  clientOrderId: string;
  side: number;
  type: number;
  timeInForce: number;
  price: bigint;
  quantity: bigint;
  filledQuantity: bigint;
  filledQuote: bigint;
  status: number;
  stopPrice: bigint;
  stp: number;
  quoteOrderQty: bigint;
  createdMs: number;
  updatedMs: number;
  workingMs: number;
}

export interface TradeRow {
  symbol: string;
  tradeId: bigint;
  orderId: bigint;
  isBuyer: boolean;
  isMaker: boolean;
  price: bigint;
  quantity: bigint;
  commission: bigint;
  commissionAsset: string;
  commissionDecimals: number;
  timeMs: number;
}

export const SIDE_NAMES: Record<string, Side> = { BUY: Side.BUY, SELL: Side.SELL };
export const TYPE_NAMES: Record<string, OrderType> = {
  LIMIT: OrderType.LIMIT,
  MARKET: OrderType.MARKET,
  LIMIT_MAKER: OrderType.LIMIT_MAKER,
  STOP_LOSS: OrderType.STOP_LOSS,
  STOP_LOSS_LIMIT: OrderType.STOP_LOSS_LIMIT,
  TAKE_PROFIT: OrderType.TAKE_PROFIT,
  TAKE_PROFIT_LIMIT: OrderType.TAKE_PROFIT_LIMIT,
};
export const TIF_NAMES: Record<string, TimeInForce> = {
  GTC: TimeInForce.GTC,
  IOC: TimeInForce.IOC,
  FOK: TimeInForce.FOK,
};
export const STP_NAMES: Record<string, SelfTradePrevention> = {
  NONE: SelfTradePrevention.NONE,
  EXPIRE_TAKER: SelfTradePrevention.EXPIRE_TAKER,
  EXPIRE_MAKER: SelfTradePrevention.EXPIRE_MAKER,
  EXPIRE_BOTH: SelfTradePrevention.EXPIRE_BOTH,
};

const nameOf = <T>(table: Record<string, T>, value: T, fallback: string) =>
  Object.entries(table).find(([, v]) => v === value)?.[0] ?? fallback;

/** Binance shows a stop order waiting for its trigger as NEW (isWorking false). */
export function statusName(status: number): string {
  switch (status) {
    case OrderStatus.NEW:
    case OrderStatus.PENDING_NEW:
      return "NEW";
    case OrderStatus.PARTIALLY_FILLED:
      return "PARTIALLY_FILLED";
    case OrderStatus.FILLED:
      return "FILLED";
    case OrderStatus.CANCELED:
      return "CANCELED";
    case OrderStatus.REJECTED:
      return "REJECTED";
    case OrderStatus.EXPIRED:
      return "EXPIRED";
    case OrderStatus.EXPIRED_IN_MATCH:
      return "EXPIRED_IN_MATCH";
    default:
      return "NEW";
  }
}

export const OPEN_STATUSES = [OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED, OrderStatus.PENDING_NEW];

export function rowFromState(symbol: string, o: OrderState, timeMs: number): OrderRow {
  return {
    orderId: o.orderId,
    symbol,
    accountId: o.accountId,
    clientOrderId: o.clientOrderId,
    side: o.side,
    type: o.type,
    timeInForce: o.timeInForce,
    price: o.price,
    quantity: o.quantity,
    filledQuantity: o.filledQuantity,
    filledQuote: o.filledQuote,
    status: o.status,
    stopPrice: o.stopPrice,
    stp: o.selfTradePrevention,
    quoteOrderQty: o.quoteOrderQty,
    createdMs: Number(o.createdTimeMs) || timeMs,
    updatedMs: timeMs,
    workingMs: Number(o.createdTimeMs) || timeMs,
  };
}

function stpName(spec: MarketSpec, stp: number): string {
  return nameOf(STP_NAMES, (stp === 0 ? spec.defaultStp : stp) as SelfTradePrevention, "EXPIRE_TAKER");
}

/** The common part of RESULT / GET order / DELETE order. */
export function orderCore(spec: MarketSpec, o: OrderRow) {
  return {
    price: price(spec, o.price),
    origQty: qty(spec, o.quantity),
    executedQty: qty(spec, o.filledQuantity),
    origQuoteOrderQty: quote(spec, o.quoteOrderQty),
    cummulativeQuoteQty: quote(spec, o.filledQuote),
    status: statusName(o.status),
    timeInForce: nameOf(TIF_NAMES, o.timeInForce as TimeInForce, "GTC"),
    type: nameOf(TYPE_NAMES, o.type as OrderType, "LIMIT"),
    side: nameOf(SIDE_NAMES, o.side as Side, "BUY"),
  };
}

const isStop = (type: number) =>
  type === OrderType.STOP_LOSS ||
  type === OrderType.STOP_LOSS_LIMIT ||
  type === OrderType.TAKE_PROFIT ||
  type === OrderType.TAKE_PROFIT_LIMIT;

/** GET /api/v3/order, openOrders, allOrders. */
export function orderJson(spec: MarketSpec, o: OrderRow) {
  const pending = o.status === OrderStatus.PENDING_NEW;
  return {
    symbol: o.symbol,
    orderId: Number(o.orderId),
    orderListId: -1,
    clientOrderId: o.clientOrderId,
    ...orderCore(spec, o),
    ...(isStop(o.type) ? { stopPrice: price(spec, o.stopPrice) } : { stopPrice: price(spec, 0n) }),
    icebergQty: qty(spec, 0n),
    time: o.createdMs,
    updateTime: o.updatedMs,
    isWorking: !pending,
    workingTime: pending ? -1 : o.workingMs,
    selfTradePreventionMode: stpName(spec, o.stp),
  };
}

export function resultJson(spec: MarketSpec, o: OrderRow, transactTime: number) {
  return {
    symbol: o.symbol,
    orderId: Number(o.orderId),
    orderListId: -1,
    clientOrderId: o.clientOrderId,
    transactTime,
    ...orderCore(spec, o),
    ...(isStop(o.type) ? { stopPrice: price(spec, o.stopPrice) } : {}),
    workingTime: o.status === OrderStatus.PENDING_NEW ? -1 : o.workingMs,
    selfTradePreventionMode: stpName(spec, o.stp),
  };
}

export function fillJson(spec: MarketSpec, t: TradeRow) {
  return {
    price: price(spec, t.price),
    qty: qty(spec, t.quantity),
    commission: formatUnits(t.commission, t.commissionDecimals),
    commissionAsset: t.commissionAsset,
    tradeId: Number(t.tradeId),
  };
}

export function tradeJson(spec: MarketSpec, t: TradeRow) {
  return {
    symbol: t.symbol,
    id: Number(t.tradeId),
    orderId: Number(t.orderId),
    orderListId: -1,
    price: price(spec, t.price),
    qty: qty(spec, t.quantity),
    quoteQty: quote(spec, t.price * t.quantity),
    commission: formatUnits(t.commission, t.commissionDecimals),
    commissionAsset: t.commissionAsset,
    time: t.timeMs,
    isBuyer: t.isBuyer,
    isMaker: t.isMaker,
    isBestMatch: true,
  };
}
