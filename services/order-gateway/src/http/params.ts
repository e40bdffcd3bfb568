/**
 * Readers of a signed request's parameters (query string + form body, `signed.ts`), with Binance's
 * errors: an empty value counts as not sent (-1102 when mandatory), an integer must match
 * INTEGER_PATTERN (-1100).
 */
import { errors, INTEGER_PATTERN } from "../errors.ts";
import type { Params } from "./signed.ts";

const INT_RE = new RegExp(INTEGER_PATTERN);

/** The value, or undefined when absent or empty. */
export function str(params: Params, name: string): string | undefined {
  const v = params.get(name);
  return v === undefined || v === "" ? undefined : v;
}

/** The value; -1102 when absent or empty. */
export function required(params: Params, name: string): string {
  const v = str(params, name);
  if (v === undefined) throw errors.mandatory(name);
  return v;
}

/** A safe integer, or undefined when absent. */
export function intOf(params: Params, name: string): number | undefined {
  const v = str(params, name);
  if (v === undefined) return undefined;
  if (!isSafeIntegerText(v)) throw errors.illegalChars(name, INTEGER_PATTERN);
  return Number(v);
}

/** An integer of up to 20 digits as bigint, or undefined when absent. */
export function bigIntOf(params: Params, name: string): bigint | undefined {
  const v = str(params, name);
  if (v === undefined) return undefined;
  if (!INT_RE.test(v)) throw errors.illegalChars(name, INTEGER_PATTERN);
  return BigInt(v);
}

/** Digits only (INTEGER_PATTERN) and within Number's safe integers. */
export function isSafeIntegerText(v: string): boolean {
  return INT_RE.test(v) && Number.isSafeInteger(Number(v));
}
