/**
 * Off-chain twin of EmissionSchedule.periodEmission: the same integer arithmetic as the contract,
 * i.e. a port of PRBMath v4 SD59x18 `ln`, `exp`, `mul`, `div` (and Common.exp2's 64 magic factors).
 * The contracts' tests check it equals the on-chain view, period by period, on a large sample.
 */

const UNIT = 10n ** 18n;
const LOG2_E = 1_442695040888963407n;
const EXP_MIN_THRESHOLD = -41_446531673892822322n;
const EXP_MAX_INPUT = 133_084258667509499440n;
const EXP2_MIN_THRESHOLD = -59_794705707972522261n;
/** 3293005.88008333 EXT in wei. */
const PEAK = 3_293_005_880_083_330_000_000_000n;

/** Number of emission periods. */
export const EMISSION_PERIODS = 74_037;
/** Emission amounts are multiples of 1e-6 EXT. */
export const EMISSION_GRANULARITY = 10n ** 12n;
/** The 70% allocation released by the schedule, in wei. */
export const EMISSION_CAP = 7_000_000_000n * UNIT;

/** sqrt(2^(2^-(i+1))) in 64.64 fixed point for bit 63-i of the fraction (PRBMath Common.exp2). */
const EXP2_FACTORS: readonly bigint[] = [
  0x16a09e667f3bcc909n,
  0x1306fe0a31b7152dfn,
  0x1172b83c7d517adcen,
  0x10b5586cf9890f62an,
  0x1059b0d31585743aen,
  0x102c9a3e778060ee7n,
  0x10163da9fb33356d8n,
  0x100b1afa5abcbed61n,
  0x10058c86da1c09ea2n,
  0x1002c605e2e8cec50n,
  0x100162f3904051fa1n,
  0x1000b175effdc76ban,
  0x100058ba01fb9f96dn,
  0x10002c5cc37da9492n,
  0x1000162e525ee0547n,
  0x10000b17255775c04n,
  0x1000058b91b5bc9aen,
  0x100002c5c89d5ec6dn,
  0x10000162e43f4f831n,
  0x100000b1721bcfc9an,
  0x10000058b90cf1e6en,
  0x1000002c5c863b73fn,
  0x100000162e430e5a2n,
  0x1000000b172183551n,
  0x100000058b90c0b49n,
  0x10000002c5c8601ccn,
  0x1000000162e42fff0n,
  0x10000000b17217fbbn,
  0x1000000058b90bfcen,
  0x100000002c5c85fe3n,
  0x10000000162e42ff1n,
  0x100000000b17217f8n,
  0x10000000058b90bfcn,
  0x1000000002c5c85fen,
  0x100000000162e42ffn,
  0x1000000000b17217fn,
  0x100000000058b90c0n,
  0x10000000002c5c860n,
  0x1000000000162e430n,
  0x10000000000b17218n,
  0x1000000000058b90cn,
  0x100000000002c5c86n,
  0x10000000000162e43n,
  0x100000000000b1721n,
  0x10000000000058b91n,
  0x1000000000002c5c8n,
  0x100000000000162e4n,
  0x1000000000000b172n,
  0x100000000000058b9n,
  0x10000000000002c5dn,
  0x1000000000000162en,
  0x10000000000000b17n,
  0x1000000000000058cn,
  0x100000000000002c6n,
  0x10000000000000163n,
  0x100000000000000b1n,
  0x10000000000000059n,
  0x1000000000000002cn,
  0x10000000000000016n,
  0x1000000000000000bn,
  0x10000000000000006n,
  0x10000000000000003n,
  0x10000000000000001n,
  0x10000000000000001n,
];

const abs = (x: bigint) => (x < 0n ? -x : x);

function commonExp2(x: bigint): bigint {
  let result = 0x800000000000000000000000000000000000000000000000n;
  for (let i = 0; i < 64; i++) {
    if (x & (1n << BigInt(63 - i))) result = (result * EXP2_FACTORS[i]!) >> 64n;
  }
  result *= UNIT;
  return result >> (191n - (x >> 64n));
}

function sdExp2(x: bigint): bigint {
  if (x < 0n) {
    if (x < EXP2_MIN_THRESHOLD) return 0n;
    return (UNIT * UNIT) / sdExp2(-x);
  }
  if (x > 192n * UNIT - 1n) throw new RangeError("exp2 input too big");
  return commonExp2((x << 64n) / UNIT);
}

/** PRBMath SD59x18 exp. */
export function sdExp(x: bigint): bigint {
  if (x < EXP_MIN_THRESHOLD) return 0n;
  if (x > EXP_MAX_INPUT) throw new RangeError("exp input too big");
  return sdExp2((x * LOG2_E) / UNIT); // bigint division truncates toward zero, like Solidity
}

function sdLog2(x: bigint): bigint {
  if (x <= 0n) throw new RangeError("log input too small");
  let sign = 1n;
  let xi = x;
  if (xi < UNIT) {
    sign = -1n;
    xi = (UNIT * UNIT) / xi;
  }
  const n = BigInt((xi / UNIT).toString(2).length - 1);
  let result = n * UNIT;
  let y = xi >> n;
  if (y === UNIT) return result * sign;
  for (let delta = UNIT / 2n; delta > 0n; delta >>= 1n) {
    y = (y * y) / UNIT;
    if (y >= 2n * UNIT) {
      result += delta;
      y >>= 1n;
    }
  }
  return result * sign;
}

/** PRBMath SD59x18 ln. */
export function sdLn(x: bigint): bigint {
  return (sdLog2(x) * UNIT) / LOG2_E;
}

/** PRBMath SD59x18 mul (rounds the magnitude down). */
export function sdMul(x: bigint, y: bigint): bigint {
  const r = (abs(x) * abs(y)) / UNIT;
  return x < 0n !== y < 0n ? -r : r;
}

/** PRBMath SD59x18 div (rounds the magnitude down). */
export function sdDiv(x: bigint, y: bigint): bigint {
  const r = (abs(x) * UNIT) / abs(y);
  return x < 0n !== y < 0n ? -r : r;
}

/** PoE + PoS + pool emission of `period` (1-based) in wei — identical to EmissionSchedule.periodEmission. */
export function periodEmission(period: number): bigint {
  if (!Number.isInteger(period) || period < 1 || period > EMISSION_PERIODS) return 0n;
  const t = sdLn((BigInt(period + 5) * UNIT) / 365n);
  const v = sdDiv(t + UNIT / 2n, 2n * UNIT);
  const e = sdExp(-sdMul(v, v));
  const y = (PEAK * e) / UNIT;
  return y - (y % EMISSION_GRANULARITY);
}

/** The 40:20:10 split, as EmissionSchedule.splitEmission. */
export function splitEmission(period: number): { poe: bigint; pos: bigint; pools: bigint } {
  const y = periodEmission(period);
  const poe = (y * 4n) / 7n;
  const pos = (y * 2n) / 7n;
  return { poe, pos, pools: y - poe - pos };
}

/** Sum of periodEmission over first..last (inclusive). */
export function emissionBetween(first: number, last: number): bigint {
  let sum = 0n;
  for (let p = first; p <= last; p++) sum += periodEmission(p);
  return sum;
}
