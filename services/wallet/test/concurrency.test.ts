import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WalletError } from "../src/errors";
import { type Harness, startHarness, stopHarness } from "./fixtures";

let h: Harness;
beforeAll(async () => {
  h = await startHarness("wallet_concurrency", { maxBatch: 64 });
});
afterAll(async () => {
  await stopHarness(h);
});

describe("concurrent reservations", () => {
  it("never overdraw an account, whatever the mix of concurrent reserves and releases", async () => {
    let run = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.bigInt({ min: 1n, max: 10_000n }),
        fc.array(fc.record({ amount: fc.bigInt({ min: 1n, max: 3_000n }), releaseAfter: fc.boolean() }), {
          minLength: 1,
          maxLength: 60,
        }),
        async (deposit, ops) => {
          const account = `prop-${run++}`;
          await h.ledger.deposit(`dep-${account}`, account, "USDT", deposit);
          // Fire everything at once: reserves race each other and releases of earlier winners.
          const results = await Promise.allSettled(
            ops.map(async (op, i) => {
              const orderId = `${account}-o${i}`;
              await h.ledger.reserve(account, "USDT", op.amount, orderId);
              if (op.releaseAfter) {
                await h.ledger.release(account, orderId, 0n);
                return 0n;
              }
              return op.amount;
            }),
          );
          let stillLocked = 0n;
          for (const r of results) {
            if (r.status === "fulfilled") stillLocked += r.value;
            else {
              expect(r.reason).toBeInstanceOf(WalletError);
              expect((r.reason as WalletError).code).toBe("INSUFFICIENT_BALANCE");
              refused++;
            }
          }
          const b = (await h.ledger.balances(account)).find((x) => x.asset === "USDT")!;
          expect(b.locked).toBe(stillLocked);
          expect(b.free + b.locked).toBe(deposit);
          expect(b.free).toBeGreaterThanOrEqual(0n);
          // Every reservation that failed did so only because the money was really gone at that time:
          // the sum of all successful reservations never exceeds the deposit at any instant, which the
          // database's CHECK (free >= 0) would have refused to commit otherwise.
        },
      ),
      { numRuns: 40 },
    );
    const audit = await h.ledger.audit();
    expect(audit.ok).toBe(true);
    // The property above must have exercised contention: some reservations were refused.
    expect(refused).toBeGreaterThan(0);
  });

  it("a second writer cannot open the same database", async () => {
    const { Ledger } = await import("../src/ledger");
    await expect(Ledger.open(h.pool)).rejects.toThrow(/another wallet writer/);
  });
});
