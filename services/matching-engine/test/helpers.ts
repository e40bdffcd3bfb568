import type { MarketSpec, MarketStatus } from "@excraft/domain";
import { FastBook } from "../src/book/fast-book.ts";
import { ReferenceBook } from "../src/book/reference/reference-book.ts";
import type { DepthBuffer, OrderBook, OrderView, PlaceCommand } from "../src/book/types.ts";
import { Engine, type EngineSink } from "../src/engine.ts";

export interface OrderRec {
  orderId: number;
  account: number;
  clientOrderId: string;
  side: number;
  type: number;
  timeInForce: number;
  price: number;
  quantity: number;
  filledQuantity: number;
  filledQuote: string;
  status: number;
  stopPrice: number;
  stp: number;
  quoteOrderQty: number;
  createdTimeMs: number;
}

export type Ev =
  | { k: "accepted"; m: number; o: OrderRec }
  | { k: "rejected"; m: number; o: OrderRec; reason: string }
  | {
      k: "trade";
      m: number;
      id: number;
      price: number;
      qty: number;
      buyerIsMaker: boolean;
      maker: OrderRec;
      taker: OrderRec;
    }
  | { k: "cancelled"; m: number; o: OrderRec; reason: string }
  | { k: "expired"; m: number; o: OrderRec; reason: string }
  | { k: "replaced"; m: number; old: OrderRec; new: OrderRec; kept: boolean }
  | { k: "triggered"; m: number; o: OrderRec; price: number }
  | { k: "depth"; m: number; first: number; last: number; bids: [number, number][]; asks: [number, number][] }
  | { k: "market"; m: number; spec: MarketSpec }
  | { k: "admin"; symbol: string; code: string };

export function rec(v: OrderView): OrderRec {
  return {
    orderId: v.orderId,
    account: v.account,
    clientOrderId: v.clientOrderId,
    side: v.side,
    type: v.type,
    timeInForce: v.timeInForce,
    price: v.price,
    quantity: v.quantity,
    filledQuantity: v.filledQuantity,
    filledQuote: v.filledQuote().toString(),
    status: v.status,
    stopPrice: v.stopPrice,
    stp: v.stp,
    quoteOrderQty: v.quoteOrderQty,
    createdTimeMs: v.createdTimeMs,
  };
}

const levels = (b: DepthBuffer): [number, number][] => {
  const out: [number, number][] = [];
  for (let i = 0; i < b.count; i++) out.push([b.prices[i]!, b.quantities[i]!]);
  return out;
};

/** Copies every event into plain data. */
export class Recorder implements EngineSink {
  events: Ev[] = [];
  take(): Ev[] {
    const e = this.events;
    this.events = [];
    return e;
  }
  accepted(m: number, o: OrderView): void {
    this.events.push({ k: "accepted", m, o: rec(o) });
  }
  rejected(m: number, o: OrderView, reason: string): void {
    this.events.push({ k: "rejected", m, o: rec(o), reason });
  }
  trade(
    m: number,
    id: number,
    price: number,
    qty: number,
    buyerIsMaker: boolean,
    maker: OrderView,
    taker: OrderView,
  ): void {
    this.events.push({ k: "trade", m, id, price, qty, buyerIsMaker, maker: rec(maker), taker: rec(taker) });
  }
  cancelled(m: number, o: OrderView, reason: string): void {
    this.events.push({ k: "cancelled", m, o: rec(o), reason });
  }
  expired(m: number, o: OrderView, reason: string): void {
    this.events.push({ k: "expired", m, o: rec(o), reason });
  }
  replaced(m: number, old: OrderView, n: OrderView, kept: boolean): void {
    this.events.push({ k: "replaced", m, old: rec(old), new: rec(n), kept });
  }
  triggered(m: number, o: OrderView, price: number): void {
    this.events.push({ k: "triggered", m, o: rec(o), price });
  }
  depth(m: number, first: number, last: number, bids: DepthBuffer, asks: DepthBuffer): void {
    this.events.push({ k: "depth", m, first, last, bids: levels(bids), asks: levels(asks) });
  }
  marketChanged(m: number, spec: Readonly<MarketSpec>): void {
    this.events.push({ k: "market", m, spec: { ...spec } });
  }
  adminRejected(symbol: string, code: string): void {
    this.events.push({ k: "admin", symbol, code });
  }
}

export function spec(over: Partial<MarketSpec> = {}): MarketSpec {
  return {
    symbol: "BTCUSDT",
    baseAsset: "BTC",
    quoteAsset: "USDT",
    priceScale: 2,
    quantityScale: 4,
    tickSize: 1,
    stepSize: 1,
    minQty: 1,
    maxQty: 0,
    minPrice: 0,
    maxPrice: 0,
    minNotional: 0,
    status: 1 as MarketStatus,
    defaultStp: 0,
    ...over,
  };
}

export type Kind = "fast" | "reference";
export const KINDS: Kind[] = ["fast", "reference"];

export function makeBook(kind: Kind, s: MarketSpec = spec()): { book: OrderBook; rec: Recorder } {
  const r = new Recorder();
  const book = kind === "fast" ? new FastBook(0, s, r, { initialOrders: 16 }) : new ReferenceBook(0, s, r);
  return { book, rec: r };
}

export function makeEngine(kind: Kind): { engine: Engine; rec: Recorder } {
  const r = new Recorder();
  return { engine: new Engine(r, kind), rec: r };
}

let nextId = 1;
export function resetIds(): void {
  nextId = 1;
}

/** A LIMIT GTC order with overrides. */
export function order(over: Partial<PlaceCommand> = {}): PlaceCommand {
  return {
    orderId: nextId++,
    account: 1,
    clientOrderId: "",
    side: 1,
    type: 1,
    timeInForce: 1,
    price: 100,
    quantity: 10,
    quoteOrderQty: 0,
    stopPrice: 0,
    stp: 0,
    reserved: 0,
    ...over,
  };
}
