/** GET /api/v3/exchangeInfo: markets with Binance's fields and filters, from the engine's MarketSpecs. */
import type { MarketSpec } from "@excraft/proto";
import { displayDecimals } from "./decimal.ts";
import { price, qty, quote } from "./format.ts";
import { statusName } from "./markets.ts";
import { MAX_SAFE } from "./orders/order-entry.ts";

const ORDER_TYPES = [
  "LIMIT",
  "LIMIT_MAKER",
  "MARKET",
  "STOP_LOSS",
  "STOP_LOSS_LIMIT",
  "TAKE_PROFIT",
  "TAKE_PROFIT_LIMIT",
];
const STP_MODES = ["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"];

/**
 * The engine's "0 = no maximum" is printed as the bound that is really enforced, as Binance publishes
 * only filters it applies (clients such as ccxt read them as the market's limits): price and quantity
 * at most MAX_SAFE units (`checkPrice` / `checkQty`; the largest on the tick / step), a notional that
 * fits the engine's int64 (its MAX_NOTIONAL reject, answered as `Filter failure: NOTIONAL`).
 */
const ENGINE_MAX_NOTIONAL = 2n ** 63n - 1n;
const largestOnGrid = (step: bigint) => (step > 0n ? MAX_SAFE - (MAX_SAFE % step) : MAX_SAFE);

export function rateLimitsJson(weightPerMinute: number) {
  return [{ rateLimitType: "REQUEST_WEIGHT", interval: "MINUTE", intervalNum: 1, limit: weightPerMinute }];
}

/** `decimalsOf`: the wallet's ledger decimals per asset, in which commissions are charged and shown. */
export function symbolJson(
  spec: MarketSpec,
  showPermissionSets = true,
  decimalsOf: (asset: string) => number | undefined = () => undefined,
) {
  const maxPrice = spec.maxPrice === 0n ? largestOnGrid(spec.tickSize) : spec.maxPrice;
  const maxQty = spec.maxQty === 0n ? largestOnGrid(spec.stepSize) : spec.maxQty;
  const stp = STP_MODES[spec.defaultStp - 1] ?? "EXPIRE_TAKER";
  return {
    symbol: spec.symbol,
    status: statusName(spec.status),
    baseAsset: spec.baseAsset,
    baseAssetPrecision: displayDecimals(spec.quantityScale),
    quoteAsset: spec.quoteAsset,
    quotePrecision: displayDecimals(spec.priceScale),
    quoteAssetPrecision: displayDecimals(spec.priceScale),
    baseCommissionPrecision: displayDecimals(decimalsOf(spec.baseAsset) ?? spec.quantityScale),
    quoteCommissionPrecision: displayDecimals(decimalsOf(spec.quoteAsset) ?? spec.priceScale),
    orderTypes: ORDER_TYPES,
    icebergAllowed: false,
    ocoAllowed: false,
    otoAllowed: false,
    quoteOrderQtyMarketAllowed: true,
    allowTrailingStop: false,
    cancelReplaceAllowed: true,
    amendAllowed: false,
    isSpotTradingAllowed: true,
    isMarginTradingAllowed: false,
    filters: [
      {
        filterType: "PRICE_FILTER",
        minPrice: price(spec, spec.minPrice),
        maxPrice: price(spec, maxPrice),
        tickSize: price(spec, spec.tickSize),
      },
      {
        filterType: "LOT_SIZE",
        minQty: qty(spec, spec.minQty),
        maxQty: qty(spec, maxQty),
        stepSize: qty(spec, spec.stepSize),
      },
      {
        filterType: "MIN_NOTIONAL",
        minNotional: quote(spec, spec.minNotional),
        applyToMarket: true,
        avgPriceMins: 5,
      },
      {
        filterType: "NOTIONAL",
        minNotional: quote(spec, spec.minNotional),
        applyMinToMarket: true,
        maxNotional: quote(spec, ENGINE_MAX_NOTIONAL),
        applyMaxToMarket: false,
        avgPriceMins: 5,
      },
    ],
    permissions: [],
    ...(showPermissionSets ? { permissionSets: [["SPOT"]] } : {}),
    defaultSelfTradePreventionMode: stp,
    allowedSelfTradePreventionModes: STP_MODES,
  };
}

export function exchangeInfoJson(
  markets: MarketSpec[],
  serverTime: number,
  weightPerMinute: number,
  showPermissionSets = true,
  decimalsOf?: (asset: string) => number | undefined,
) {
  return {
    timezone: "UTC",
    serverTime,
    rateLimits: rateLimitsJson(weightPerMinute),
    exchangeFilters: [],
    symbols: markets.map((m) => symbolJson(m, showPermissionSets, decimalsOf)),
  };
}
