import {
  type ContractTransactionResponse,
  Interface,
  type InterfaceAbi,
  type TransactionReceipt,
} from "ethers";
import { expect } from "vitest";
import { compiledArtifacts } from "../scripts/lib/fixture.ts";

/** Every custom error of every contract (and OZ's), to decode revert data from sends. */
const errors: Interface = (() => {
  const seen = new Map<string, unknown>();
  for (const a of Object.values(compiledArtifacts())) {
    for (const item of a.abi as { type: string; name: string; inputs: { type: string }[] }[]) {
      if (item.type === "error") seen.set(`${item.name}(${item.inputs.map((i) => i.type).join(",")})`, item);
    }
  }
  return new Interface([...seen.values()] as InterfaceAbi);
})();

/** Decodes the custom error carried by an ethers error, if any. */
export function revertName(e: unknown): string | undefined {
  const err = e as { revert?: { name?: string }; data?: string; info?: { error?: { data?: string } } };
  if (err.revert?.name) return err.revert.name;
  const data = typeof err.data === "string" ? err.data : err.info?.error?.data;
  if (typeof data !== "string" || data.length < 10) return undefined;
  return errors.parseError(data)?.name;
}

export const EXT = 10n ** 18n;
export const DAY = 86_400;

/** Awaits a transaction and returns its receipt. */
export async function mined(tx: Promise<ContractTransactionResponse>): Promise<TransactionReceipt> {
  const r = await (await tx).wait();
  if (!r) throw new Error("no receipt");
  return r;
}

/** Expects the call to revert with the custom error `name` (decoded from the ABI). */
export async function expectRevert(p: Promise<unknown>, name: string): Promise<void> {
  let error: unknown;
  try {
    await p;
  } catch (e) {
    error = e;
  }
  expect(error, `expected revert ${name}`).toBeDefined();
  const err = error as { shortMessage?: string; message?: string };
  const got = revertName(error) ?? err.shortMessage ?? err.message;
  expect(got, String(err.message).slice(0, 300)).toBe(name);
}
