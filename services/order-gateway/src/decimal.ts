/**
 * Integer ↔ decimal text at the API edge. Inside the gateway every price, quantity and volume is an
 * integer (bigint or safe-integer number) in units of 10^-scale; only responses carry decimal strings.
 *
 * Format rule (documented in README.md): like Binance, every decimal is printed with 8 fractional
 * digits ("97000.00000000"); a value whose scale is finer than 8 is printed with all of its digits,
 * so no value is ever rounded for display.
 */

/** Fractional digits printed for a value of the given scale. */
export function displayDecimals(scale: number): number {
  return Math.max(scale, 8);
}

const POW10: bigint[] = [];
export function pow10(n: number): bigint {
  let p = POW10[n];
  if (p === undefined) {
    p = 10n ** BigInt(n);
    POW10[n] = p;
  }
  return p;
}

/** `units` × 10^-scale as decimal text with `displayDecimals(scale)` fractional digits. */
export function formatUnits(units: bigint | number, scale: number): string {
  return formatFixed(BigInt(units) * pow10(displayDecimals(scale) - scale), displayDecimals(scale));
}

/** `value` × 10^-decimals as text with exactly `decimals` fractional digits. */
export function formatFixed(value: bigint, decimals: number): string {
  const negative = value < 0n;
  const digits = (negative ? -value : value).toString().padStart(decimals + 1, "0");
  const int = digits.slice(0, digits.length - decimals);
  const frac = digits.slice(digits.length - decimals);
  return `${negative ? "-" : ""}${int}${decimals > 0 ? `.${frac}` : ""}`;
}

/** a / b rounded half away from zero (b ≠ 0). */
export function divRound(a: bigint, b: bigint): bigint {
  const negative = a < 0n !== b < 0n;
  const absA = a < 0n ? -a : a;
  const absB = b < 0n ? -b : b;
  const q = (absA * 2n + absB) / (absB * 2n);
  return negative ? -q : q;
}

/**
 * The quotient `numerator / denominator` (each an integer at its own scale) as text with `decimals`
 * fractional digits, rounded half away from zero. Used for averages (weighted price) and percentages.
 */
export function formatRatio(
  numerator: bigint,
  numeratorScale: number,
  denominator: bigint,
  denominatorScale: number,
  decimals: number,
): string {
  if (denominator === 0n) return formatFixed(0n, decimals);
  // value = (n·10^-ns) / (d·10^-ds) = n/d · 10^(ds-ns); scaled by 10^decimals.
  const shift = decimals + denominatorScale - numeratorScale;
  const q =
    shift >= 0
      ? divRound(numerator * pow10(shift), denominator)
      : divRound(numerator, denominator * pow10(-shift));
  return formatFixed(q, decimals);
}
