/**
 * Fixed-point helpers. Inside the system a price is an integer count of price units
 * (10^-priceScale of the quote asset) and a quantity an integer count of quantity units
 * (10^-quantityScale of the base asset). Hot-path code keeps them as safe-integer numbers;
 * anything that can exceed 2^53 (price × quantity, sums of notionals) uses BigInt or the
 * exact two-limb "wide" representation below.
 */

export const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** 2^52: the radix of the wide (hi, lo) representation; lo is always in [0, 2^52). */
export const WIDE_RADIX = 4503599627370496;
const WIDE_RADIX_BIG = 4503599627370496n;

export function isSafeNonNegInt(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

export function isSafePosInt(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0;
}

/** Converts an int64 (as the proto layer gives it) to a number, throwing when it is not safe. */
export function toSafeNumber(v: bigint, field = "value"): number {
  if (v > 9007199254740991n || v < -9007199254740991n) {
    throw new RangeError(`${field} ${v} is outside the safe-integer range`);
  }
  return Number(v);
}

/** Exact notional price × quantity as a bigint. */
export function notional(price: number, quantity: number): bigint {
  return BigInt(price) * BigInt(quantity);
}

/**
 * price × quantity ≥ min, exactly, without BigInt on the common path. If the floating-point
 * product is ≤ MAX_SAFE it is exact; otherwise it is ≥ 2^53 > any safe `min`.
 */
export function notionalAtLeast(price: number, quantity: number, min: number): boolean {
  const p = price * quantity;
  if (p <= MAX_SAFE) return p >= min;
  return true;
}

const INT64_MAX_BIG = 2n ** 63n - 1n;

/**
 * price × quantity ≤ 2^63 − 1, exactly. Every quote amount the engine emits (an order's cumulative
 * filled quote) is an int64 on the wire, so an order whose notional could pass it is refused up
 * front: accepting it would make the shard fail while writing its fills, on every replay.
 */
export function notionalFitsInt64(price: number, quantity: number): boolean {
  const p = price * quantity;
  if (p < 2 ** 62) return true; // far from the bound despite float rounding
  if (p > 2 ** 64) return false;
  return BigInt(price) * BigInt(quantity) <= INT64_MAX_BIG;
}

/** True when price × quantity is exactly representable (< 2^53). */
export function productIsSafe(price: number, quantity: number): boolean {
  return price * quantity <= MAX_SAFE;
}

/** A wide value hi·2^52 + lo. */
export function wideToBigInt(hi: number, lo: number): bigint {
  return BigInt(hi) * WIDE_RADIX_BIG + BigInt(lo);
}

/** Splits a non-negative bigint into wide limbs; `out[0]` = hi, `out[1]` = lo. */
export function bigIntToWide(v: bigint, out: Float64Array | number[]): void {
  if (v < 0n) throw new RangeError("negative wide value");
  out[0] = Number(v / WIDE_RADIX_BIG);
  out[1] = Number(v % WIDE_RADIX_BIG);
}

/** Floors `q` to a multiple of `step` (q, step > 0 safe integers). */
export function floorToStep(q: number, step: number): number {
  return q - (q % step);
}
