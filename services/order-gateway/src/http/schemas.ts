/**
 * JSON schemas of the REST parameters. Every query parameter is a string with Binance's legal
 * pattern, so a failed check maps to Binance's error (see error-handler.ts): a missing required
 * parameter → -1102, a pattern mismatch → -1100 naming the pattern, a repeated parameter → -1101,
 * a bad interval → -1120.
 */
import { INTEGER_PATTERN, SYMBOL_PATTERN } from "../errors.ts";
import { KLINE_INTERVALS } from "../projector/intervals.ts";

export const SYMBOLS_PATTERN = '^\\[("[A-Z0-9-_.]{1,20}"(,"[A-Z0-9-_.]{1,20}"){0,}){0,1}\\]$';

export const p = {
  symbol: { type: "string", pattern: SYMBOL_PATTERN },
  symbols: { type: "string", pattern: SYMBOLS_PATTERN },
  int: { type: "string", pattern: INTEGER_PATTERN },
  interval: { type: "string", enum: [...KLINE_INTERVALS] },
} as const;

export function query(properties: Record<string, object>, required: string[] = []) {
  return { type: "object", properties, required } as const;
}

const decimal = { type: "string" } as const;
const level = { type: "array", items: decimal } as const;

export const responses = {
  empty: { 200: { type: "object", properties: {} } },
  time: { 200: { type: "object", properties: { serverTime: { type: "integer" } } } },
  depth: {
    200: {
      type: "object",
      properties: {
        lastUpdateId: { type: "integer" },
        bids: { type: "array", items: level },
        asks: { type: "array", items: level },
      },
    },
  },
  trades: {
    200: {
      type: "array",
      items: {
        type: "object",
        properties: {
          id: { type: "integer" },
          price: decimal,
          qty: decimal,
          quoteQty: decimal,
          time: { type: "integer" },
          isBuyerMaker: { type: "boolean" },
          isBestMatch: { type: "boolean" },
        },
      },
    },
  },
  aggTrades: {
    200: {
      type: "array",
      items: {
        type: "object",
        properties: {
          a: { type: "integer" },
          p: decimal,
          q: decimal,
          f: { type: "integer" },
          l: { type: "integer" },
          T: { type: "integer" },
          m: { type: "boolean" },
          M: { type: "boolean" },
        },
      },
    },
  },
  avgPrice: {
    200: {
      type: "object",
      properties: { mins: { type: "integer" }, price: decimal, closeTime: { type: "integer" } },
    },
  },
} as const;
