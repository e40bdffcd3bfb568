import { claimLeaf, MerkleTree } from "@excraft/chain";
import type { Wallet } from "ethers";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { deployFixture, type Fixture } from "../scripts/lib/fixture.ts";
import { DAY, EXT, expectRevert, mined, revertName } from "./helpers.ts";

function rewardTree(accounts: Wallet[], cumulative: bigint[]) {
  const tree = new MerkleTree(accounts.map((a, i) => claimLeaf(a.address, cumulative[i]!)));
  return { tree, total: cumulative.reduce((a, b) => a + b, 0n) };
}

describe("RewardDistributor (R-24)", () => {
  let f: Fixture;
  let users: Wallet[];
  beforeAll(async () => {
    f = await deployFixture();
    users = f.wallets.slice(1, 6);
    await mined(f.c.ext.transfer(f.deployment.contracts.poeRewards, 1_000_000n * EXT));
  });

  it("timelocked root, claim to the linked wallet, claim twice, forged proof, revoke", async () => {
    const snap = await f.snapshot();
    const d = f.c.poeRewards;
    const cum = [100n, 200n, 0n, 50n, 1n].map((x) => x * EXT);
    const { tree, total } = rewardTree(users, cum);
    await expectRevert(
      f.as(users[0]!).poeRewards.proposeRoot(1, tree.root, total),
      "AccessControlUnauthorizedAccount",
    );
    await mined(d.proposeRoot(1, tree.root, total));
    await expectRevert(d.acceptRoot(), "TimelockActive");
    await f.increaseTime(DAY);
    // anyone may accept after the timelock
    await mined(f.as(users[4]!).poeRewards.acceptRoot());
    expect(await d.root()).toBe(tree.root);

    // a relayer (users[4]) submits users[0]'s claim: the EXT goes to users[0]
    const before = await f.c.ext.balanceOf(users[0]!.address);
    await mined(f.as(users[4]!).poeRewards.claim(users[0]!.address, cum[0]!, tree.proof(0)));
    expect((await f.c.ext.balanceOf(users[0]!.address)) - before).toBe(100n * EXT);
    await expectRevert(d.claim(users[0]!.address, cum[0]!, tree.proof(0)), "NothingToClaim");
    await expectRevert(d.claim(users[1]!.address, cum[1]! + 1n, tree.proof(1)), "InvalidProof");
    await expectRevert(d.claim(users[1]!.address, cum[1]!, tree.proof(0)), "InvalidProof");
    await expectRevert(d.claim(users[2]!.address, 0n, tree.proof(2)), "NothingToClaim");

    // next period: cumulative amounts grow; a claim pays only the difference
    const cum2 = cum.map((x) => x + 10n * EXT);
    const t2 = rewardTree(users, cum2);
    await expectRevert(d.proposeRoot(1, t2.tree.root, t2.total), "StalePeriod");
    await mined(d.proposeRoot(2, t2.tree.root, t2.total));
    await expectRevert(f.as(users[0]!).poeRewards.revokeRoot(), "AccessControlUnauthorizedAccount");
    await mined(d.revokeRoot());
    await f.increaseTime(DAY);
    await expectRevert(d.acceptRoot(), "NoPendingRoot");
    await mined(d.proposeRoot(2, t2.tree.root, t2.total));
    await f.increaseTime(DAY);
    await mined(d.acceptRoot());
    await mined(d.claim(users[0]!.address, cum2[0]!, t2.tree.proof(0)));
    expect((await f.c.ext.balanceOf(users[0]!.address)) - before).toBe(110n * EXT);
    // the old root's proofs are worthless now
    await expectRevert(d.claim(users[1]!.address, cum[1]!, tree.proof(1)), "InvalidProof");
    // a root the contract could not pay is refused
    const big = rewardTree(users, [10n ** 9n * EXT, 0n, 0n, 0n, 0n]);
    await mined(d.proposeRoot(3, big.tree.root, big.total));
    await f.increaseTime(DAY);
    await expectRevert(d.acceptRoot(), "Underfunded");
    // cumulative totals never go down
    const lower = rewardTree(users, cum);
    await mined(d.proposeRoot(4, lower.tree.root, lower.total));
    await f.increaseTime(DAY);
    await expectRevert(d.acceptRoot(), "TotalDecreased");
    await f.revert(snap);
  });

  type Action =
    | { t: "round"; inc: bigint[]; revoke: boolean }
    | { t: "claim"; who: number }
    | { t: "forge"; who: number; extra: bigint };

  it("property: random rounds and claims pay each wallet exactly its latest accepted cumulative amount", async () => {
    const action: fc.Arbitrary<Action> = fc.oneof(
      fc.record({
        t: fc.constant("round" as const),
        inc: fc.array(fc.bigInt({ min: 0n, max: 1_000n * EXT }), { minLength: 5, maxLength: 5 }),
        revoke: fc.boolean(),
      }),
      fc.record({ t: fc.constant("claim" as const), who: fc.integer({ min: 0, max: 4 }) }),
      fc.record({
        t: fc.constant("forge" as const),
        who: fc.integer({ min: 0, max: 4 }),
        extra: fc.bigInt({ min: 1n, max: EXT }),
      }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(action, { minLength: 1, maxLength: 12 }), async (actions) => {
        const snap = await f.snapshot();
        try {
          const d = f.c.poeRewards;
          const start = await Promise.all(users.map((u) => f.c.ext.balanceOf(u.address)));
          let cum = [0n, 0n, 0n, 0n, 0n];
          let accepted: ReturnType<typeof rewardTree> | undefined;
          let period = 0;
          const claimed = [0n, 0n, 0n, 0n, 0n];
          for (const a of actions) {
            if (a.t === "round") {
              const next = cum.map((x, i) => x + a.inc[i]!);
              const t = rewardTree(users, next);
              await mined(d.proposeRoot(period + 1, t.tree.root, t.total));
              if (a.revoke) {
                await mined(d.revokeRoot());
              } else {
                await f.increaseTime(DAY);
                await mined(d.acceptRoot());
                cum = next;
                accepted = t;
                period += 1;
              }
            } else {
              const proof = accepted ? accepted.tree.proof(a.who) : [];
              const amount = cum[a.who]! + (a.t === "forge" ? a.extra : 0n);
              const expected =
                a.t === "forge" || !accepted
                  ? "InvalidProof"
                  : amount > claimed[a.who]!
                    ? undefined
                    : "NothingToClaim";
              let got: string | undefined;
              try {
                await mined(d.claim(users[a.who]!.address, amount, proof));
              } catch (e) {
                got = revertName(e) ?? "unknown";
              }
              expect(got).toBe(expected);
              if (!expected) claimed[a.who] = amount;
            }
          }
          for (let i = 0; i < 5; i++) {
            expect(await d.claimed(users[i]!.address)).toBe(claimed[i]);
            expect((await f.c.ext.balanceOf(users[i]!.address)) - start[i]!).toBe(claimed[i]);
          }
          expect(await f.c.ext.balanceOf(await d.getAddress())).toBe(
            1_000_000n * EXT - claimed.reduce((x, y) => x + y, 0n),
          );
        } finally {
          await f.revert(snap);
        }
      }),
      { numRuns: 15 },
    );
  });
});
