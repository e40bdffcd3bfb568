/**
 * Public market-data REST endpoints under /api/v3, Binance Spot shapes and request weights.
 * One encapsulated fastify plugin; the order-entry endpoints will be sibling plugins.
 */
import type { MarketSpec } from "@excraft/proto";
import type { FastifyPluginAsync } from "fastify";
import type { OrderBookSource } from "../engine/order-book-source.ts";
import { BinanceError, errors } from "../errors.ts";
import { exchangeInfoJson } from "../exchange-info.ts";
import {
  aggTradeJson,
  avgPriceJson,
  bestOf,
  depthJson,
  klineArray,
  price,
  qty,
  ticker24Json,
  tradeJson,
} from "../format.ts";
import type { MarketRegistry } from "../markets.ts";
import type { KlineInterval } from "../projector/intervals.ts";
import type { MarketDataProjector } from "../projector/projector.ts";
import type { MarketDataStore } from "../projector/store.ts";
import { p, query, responses } from "./schemas.ts";

export interface MarketRoutesOptions {
  markets: MarketRegistry;
  books: OrderBookSource;
  store: MarketDataStore;
  projector: MarketDataProjector;
  weightPerMinute: number;
  now: () => number;
}

type Q = Record<string, string | undefined>;

/** Binance REQUEST_WEIGHT of GET /api/v3/depth by limit. */
export function depthWeight(limit: number): number {
  if (limit <= 100) return 5;
  if (limit <= 500) return 25;
  if (limit <= 1000) return 50;
  return 250;
}

/** Weight of ticker endpoints: one symbol, a list (`symbols`), or every market. */
function tickerWeight(q: Record<string, unknown>, one: number, list: (n: number) => number, all: number) {
  if (typeof q.symbol === "string") return one;
  if (typeof q.symbols === "string") {
    const n = q.symbols.split(",").length;
    return list(n);
  }
  return all;
}

function intParam(q: Q, name: string): number | undefined {
  const v = q[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw errors.illegalChars(name, "^[0-9]{1,20}$");
  return n;
}

/** A limit within [1, max]; larger values are truncated to max (as Binance documents for depth). */
function limitParam(q: Q, fallback: number, max: number): number {
  const n = intParam(q, "limit");
  if (n === undefined) return fallback;
  return Math.min(Math.max(n, 1), max);
}

function timeRange(q: Q): { startTime?: number; endTime?: number } {
  const startTime = intParam(q, "startTime");
  const endTime = intParam(q, "endTime");
  if (startTime !== undefined && endTime !== undefined && startTime > endTime) {
    throw new BinanceError(400, -1023, "Start time is greater than end time.");
  }
  return { startTime, endTime };
}

export const marketRoutes: FastifyPluginAsync<MarketRoutesOptions> = async (app, options) => {
  const { markets, books, store, projector, now } = options;

  const market = (symbol: string | undefined): MarketSpec => {
    if (symbol === undefined || symbol === "") throw errors.mandatory("symbol");
    const spec = markets.get(symbol);
    if (!spec) throw errors.badSymbol();
    return spec;
  };

  /** `symbol` or `symbols` or neither (= every market). */
  const selection = (q: Q): MarketSpec[] | MarketSpec => {
    if (q.symbol !== undefined && q.symbols !== undefined) throw errors.badCombo();
    if (q.symbol !== undefined) return market(q.symbol);
    if (q.symbols !== undefined) {
      const list = JSON.parse(q.symbols) as string[];
      if (list.length === 0) throw errors.mandatory("symbols");
      return list.map((s) => market(s));
    }
    return markets.all();
  };

  const best = async (spec: MarketSpec) => bestOf(await books.getOrderBook(spec.symbol, 1));

  app.get("/ping", { schema: { response: responses.empty }, config: { weight: () => 1 } }, async () => ({}));

  app.get("/time", { schema: { response: responses.time }, config: { weight: () => 1 } }, async () => ({
    serverTime: now(),
  }));

  app.get(
    "/exchangeInfo",
    {
      schema: {
        querystring: query({
          symbol: p.symbol,
          symbols: p.symbols,
          permissions: { type: "string" },
          showPermissionSets: { type: "string", enum: ["true", "false"] },
          symbolStatus: { type: "string", enum: ["TRADING", "HALT", "BREAK"] },
        }),
      },
      config: { weight: () => 20 },
    },
    async (request) => {
      const q = request.query as Q;
      const selected = selection(q);
      let list = Array.isArray(selected) ? selected : [selected];
      if (q.symbolStatus !== undefined) {
        if (q.symbol !== undefined || q.symbols !== undefined) throw errors.badCombo();
        list = list.filter((s) => exchangeStatus(s) === q.symbolStatus);
      }
      return exchangeInfoJson(
        list,
        now(),
        options.weightPerMinute,
        q.showPermissionSets !== "false",
        (asset) => options.markets.assetDecimals(asset),
      );
    },
  );

  app.get(
    "/depth",
    {
      schema: {
        querystring: query({ symbol: p.symbol, limit: p.int }, ["symbol"]),
        response: responses.depth,
      },
      config: {
        weight: (q) => depthWeight(/^[0-9]{1,20}$/.test(String(q.limit)) ? Number(q.limit) : 100),
      },
    },
    async (request) => {
      const q = request.query as Q;
      const spec = market(q.symbol);
      const limit = limitParam(q, 100, 5_000);
      return depthJson(spec, await books.getOrderBook(spec.symbol, limit));
    },
  );

  app.get(
    "/trades",
    {
      schema: {
        querystring: query({ symbol: p.symbol, limit: p.int }, ["symbol"]),
        response: responses.trades,
      },
      config: { weight: () => 25 },
    },
    async (request) => {
      const q = request.query as Q;
      const spec = market(q.symbol);
      const trades = await store.recentTrades(spec.symbol, limitParam(q, 500, 1_000));
      return trades.map((t) => tradeJson(spec, t));
    },
  );

  app.get(
    "/aggTrades",
    {
      schema: {
        querystring: query(
          { symbol: p.symbol, fromId: p.int, startTime: p.int, endTime: p.int, limit: p.int },
          ["symbol"],
        ),
        response: responses.aggTrades,
      },
      config: { weight: () => 4 },
    },
    async (request) => {
      const q = request.query as Q;
      const spec = market(q.symbol);
      const fromId = intParam(q, "fromId");
      const range = timeRange(q);
      if (fromId !== undefined && (range.startTime !== undefined || range.endTime !== undefined)) {
        throw errors.badCombo();
      }
      const list = await store.aggTrades(spec.symbol, { fromId, ...range, limit: limitParam(q, 500, 1_000) });
      return list.map((a) => aggTradeJson(spec, a));
    },
  );

  app.get(
    "/klines",
    {
      schema: {
        querystring: query(
          {
            symbol: p.symbol,
            interval: p.interval,
            startTime: p.int,
            endTime: p.int,
            timeZone: { type: "string" },
            limit: p.int,
          },
          ["symbol", "interval"],
        ),
      },
      config: { weight: () => 2 },
    },
    async (request) => {
      const q = request.query as Q;
      const spec = market(q.symbol);
      if (
        q.timeZone !== undefined &&
        q.timeZone !== "0" &&
        q.timeZone !== "+00:00" &&
        q.timeZone !== "00:00"
      ) {
        throw errors.invalidParameter(); // only UTC klines are kept
      }
      const klines = await store.klines(spec.symbol, q.interval as KlineInterval, {
        ...timeRange(q),
        limit: limitParam(q, 500, 1_000),
      });
      return klines.map((k) => klineArray(spec, k));
    },
  );

  app.get(
    "/avgPrice",
    {
      schema: { querystring: query({ symbol: p.symbol }, ["symbol"]), response: responses.avgPrice },
      config: { weight: () => 2 },
    },
    async (request) => {
      const spec = market((request.query as Q).symbol);
      return avgPriceJson(spec, projector.state(spec.symbol), now());
    },
  );

  app.get(
    "/ticker/24hr",
    {
      schema: {
        querystring: query({
          symbol: p.symbol,
          symbols: p.symbols,
          type: { type: "string", enum: ["FULL", "MINI"] },
        }),
      },
      config: { weight: (q) => tickerWeight(q, 2, (n) => (n <= 20 ? 2 : n <= 100 ? 40 : 80), 80) },
    },
    async (request) => {
      const q = request.query as Q;
      const selected = selection(q);
      const one = async (spec: MarketSpec) => {
        const full = ticker24Json(spec, projector.state(spec.symbol), await best(spec), now());
        if (q.type !== "MINI") return full;
        const {
          symbol,
          openPrice,
          highPrice,
          lowPrice,
          lastPrice,
          volume,
          quoteVolume,
          openTime,
          closeTime,
          firstId,
          lastId,
          count,
        } = full;
        return {
          symbol,
          openPrice,
          highPrice,
          lowPrice,
          lastPrice,
          volume,
          quoteVolume,
          openTime,
          closeTime,
          firstId,
          lastId,
          count,
        };
      };
      return Array.isArray(selected) ? Promise.all(selected.map(one)) : one(selected);
    },
  );

  app.get(
    "/ticker/price",
    {
      schema: { querystring: query({ symbol: p.symbol, symbols: p.symbols }) },
      config: { weight: (q) => tickerWeight(q, 2, () => 4, 4) },
    },
    async (request) => {
      const selected = selection(request.query as Q);
      const one = (spec: MarketSpec) => {
        const last = projector.state(spec.symbol)?.lastTrade;
        return { symbol: spec.symbol, price: price(spec, last?.price ?? 0n) };
      };
      return Array.isArray(selected) ? selected.map(one) : one(selected);
    },
  );

  app.get(
    "/ticker/bookTicker",
    {
      schema: { querystring: query({ symbol: p.symbol, symbols: p.symbols }) },
      config: { weight: (q) => tickerWeight(q, 2, () => 4, 4) },
    },
    async (request) => {
      const selected = selection(request.query as Q);
      const one = async (spec: MarketSpec) => {
        const b = await best(spec);
        return {
          symbol: spec.symbol,
          bidPrice: price(spec, b.bidPrice),
          bidQty: qty(spec, b.bidQty),
          askPrice: price(spec, b.askPrice),
          askQty: qty(spec, b.askQty),
        };
      };
      return Array.isArray(selected) ? Promise.all(selected.map(one)) : one(selected);
    },
  );
};

function exchangeStatus(spec: MarketSpec): string {
  return spec.status === 1 ? "TRADING" : spec.status === 2 ? "HALT" : "BREAK";
}
