/**
 * Order-entry numbers: decimal text → integers of the market (ticks, lots, price×quantity units),
 * the funds to reserve in the wallet's minor units, and commissions exactly as the wallet books them.
 *
 * Units (see README "Order entry → units"):
 *   price P in 10^-priceScale, quantity Q in 10^-quantityScale, notional/quote budget N = P·Q in
 *   10^-(priceScale+quantityScale); an asset with `decimals` d has a minor unit of 10^-d.
 *   base minor  = Q · 10^(d_base − quantityScale)
 *   quote minor = N · 10^(d_quote − priceScale − quantityScale)
 * A negative exponent leaves a fraction: the reservation takes the ceiling (the wallet charges the
 * payer the ceiling), the commission is computed on the floor (what the receiver is credited).
 */
import type { MarketSpec } from "@excraft/proto";
import { pow10 } from "../decimal.ts";
import { BinanceError, errors } from "../errors.ts";

/** Binance's legal pattern for decimal parameters (price, quantity, stopPrice, quoteOrderQty). */
export const DECIMAL_PATTERN = "^([0-9]{1,20})(\\.[0-9]{1,20})?$";
const DECIMAL_RE = new RegExp(DECIMAL_PATTERN);

export interface Parsed {
  units: bigint;
  /** false when digits finer than `scale` were non-zero (not representable: a filter failure). */
  exact: boolean;
}

/** Decimal text → integer units of 10^-scale. Malformed → -1100; more than 8 (or scale) decimals → -1111. */
export function parseDecimal(text: string, scale: number, param: string): Parsed {
  if (!DECIMAL_RE.test(text)) throw errors.illegalChars(param, DECIMAL_PATTERN);
  const [int = "0", frac = ""] = text.split(".");
  if (frac.length > Math.max(8, scale) && /[1-9]/.test(frac.slice(Math.max(8, scale)))) {
    throw new BinanceError(400, -1111, `Parameter '${param}' has too much precision.`);
  }
  const kept = frac.slice(0, scale).padEnd(scale, "0");
  const dropped = frac.slice(scale);
  return { units: BigInt(int) * pow10(scale) + BigInt(kept || "0"), exact: !/[1-9]/.test(dropped) };
}

/** value·10^(to − from): exact when to ≥ from; else floor and ceiling. */
export function rescale(value: bigint, from: number, to: number): { floor: bigint; ceil: bigint } {
  if (to >= from) {
    const v = value * pow10(to - from);
    return { floor: v, ceil: v };
  }
  const d = pow10(from - to);
  const floor = value / d;
  return { floor, ceil: value % d === 0n ? floor : floor + 1n };
}

/** Base minor units for Q lots. */
export const baseMinor = (spec: MarketSpec, q: bigint, decimals: number) =>
  rescale(q, spec.quantityScale, decimals);
/** Quote minor units for a notional N (price×quantity units). */
export const quoteMinor = (spec: MarketSpec, n: bigint, decimals: number) =>
  rescale(n, spec.priceScale + spec.quantityScale, decimals);
/** Minor units of the quote asset → notional units (floor): the budget the engine may spend. */
export const notionalOf = (spec: MarketSpec, minor: bigint, decimals: number) =>
  rescale(minor, decimals, spec.priceScale + spec.quantityScale).floor;

/** ⌊amount × bps / 10 000⌋, as the wallet charges. */
export const feeOf = (amount: bigint, bps: number) => (amount * BigInt(bps)) / 10_000n;

export interface FeeRates {
  makerBps: number;
  takerBps: number;
}

/**
 * The commission one side of a trade pays, in the asset it receives (buyer: base, seller: quote),
 * exactly as the wallet settles it: ⌊floor(received) × bps / 10 000⌋.
 */
export function commissionOf(
  spec: MarketSpec,
  price: bigint,
  quantity: bigint,
  isBuyer: boolean,
  isMaker: boolean,
  fees: FeeRates,
  decimalsOf: (asset: string) => number | undefined,
): { amount: bigint; asset: string; decimals: number } {
  const asset = isBuyer ? spec.baseAsset : spec.quoteAsset;
  const decimals = decimalsOf(asset);
  if (decimals === undefined) return { amount: 0n, asset, decimals: 8 };
  const received = isBuyer
    ? baseMinor(spec, quantity, decimals)
    : quoteMinor(spec, price * quantity, decimals);
  return { amount: feeOf(received.floor, isMaker ? fees.makerBps : fees.takerBps), asset, decimals };
}
