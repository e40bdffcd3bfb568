/**
 * Unit conversion between the engine's integers and asset minor units.
 *
 * The engine carries price as an integer P in units of 10^-price_scale (quote per base) and
 * quantity as an integer Q in units of 10^-quantity_scale (base). An asset with `decimals` d has a
 * minor unit of 10^-d. Hence
 *   base minor units  = Q · 10^(d_base − quantity_scale)
 *   quote minor units = P · Q · 10^(d_quote − price_scale − quantity_scale)
 * When an exponent is negative the value is not always an integer; the payer is then charged the
 * ceiling and the receiver credited the floor, and the difference (rounding dust, < 1 minor unit)
 * goes to the fee account, so every entry still balances to zero.
 */
export function scaleExact(
  value: bigint,
  fromScale: number,
  toDecimals: number,
): { ceil: bigint; floor: bigint } {
  const shift = toDecimals - fromScale;
  if (shift >= 0) {
    const v = value * 10n ** BigInt(shift);
    return { ceil: v, floor: v };
  }
  const div = 10n ** BigInt(-shift);
  const floor = value / div; // value ≥ 0
  return { floor, ceil: value % div === 0n ? floor : floor + 1n };
}

/** Fee in basis points of `amount`, rounded down (never more than the stated rate). */
export function feeOf(amount: bigint, bps: number): bigint {
  return (amount * BigInt(bps)) / 10_000n;
}

export const INT64_MAX = (1n << 63n) - 1n;

/** UTC day (YYYY-MM-DD) of a millisecond timestamp. */
export function utcDay(timeMs: bigint | number): string {
  return new Date(Number(timeMs)).toISOString().slice(0, 10);
}
