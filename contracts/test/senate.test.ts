import { MerkleSumTree } from "@excraft/chain";
import { encodeBytes32String, keccak256, toUtf8Bytes, type Wallet, zeroPadValue } from "ethers";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { deployFixture, type Fixture } from "../scripts/lib/fixture.ts";
import { congressTree, signSenateBallot } from "./dao-helpers.ts";
import { DAY, EXT, expectRevert, mined, revertName } from "./helpers.ts";

const PASSED = 2n;
const REJECTED = 3n;
const poolKey = (id: number) => zeroPadValue(`0x${id.toString(16).padStart(2, "0")}`, 32);

describe("Senate (R-53..R-55)", () => {
  let f: Fixture;
  let masters: Wallet[];
  let term: ReturnType<typeof congressTree>;
  let period = 0;

  /** Anchors a period whose pool tree gives pool i+1 the weight weights[i]. */
  async function anchorWeights(weights: bigint[]) {
    const pools = new MerkleSumTree(weights.map((w, i) => ({ id: poolKey(i + 1), value: w })));
    const users = new MerkleSumTree([{ id: keccak256(toUtf8Bytes("u")), value: 1n }]);
    period = Number(await f.c.emission.currentPeriod());
    await f.mine(2);
    await mined(
      f.c.anchor.anchor({
        period,
        userRoot: users.root,
        totalPoe: users.total,
        poolRoot: pools.root,
        totalPoolPoe: pools.total,
        assets: [],
        fees: [],
        buyback: 0n,
        burnTx: `0x${"00".repeat(32)}`,
      }),
    );
    return pools;
  }

  /** A Congress proposal that passes; returns its id. */
  async function passedProposal(): Promise<bigint> {
    const m = f.wallets[10]!;
    await mined(f.as(m).congress.propose(encodeBytes32String("p"), "", term.proof(m.address)));
    const id = await f.c.congress.proposalCount();
    await mined(f.as(m).congress.castVote(id, true, term.proof(m.address)));
    await f.increaseTime(3 * DAY);
    await mined(f.c.congress.finalize(id));
    return id;
  }

  beforeAll(async () => {
    f = await deployFixture({ periodBlocks: 1n });
    term = congressTree(f.wallets.slice(10, 13).map((w) => w.address));
    await mined(f.c.congress.startTerm(term.root, 1, 3));
    masters = f.wallets.slice(1, 8);
    const poolsAddr = f.deployment.contracts.TradingPools;
    for (const m of masters.slice(0, 6)) {
      await mined(f.c.ext.transfer(m.address, 30_000n * EXT));
      await mined(f.as(m).ext.approve(poolsAddr, 30_000n * EXT));
      await mined(f.as(m).pools.createPool()); // pool ids 1..6 = masters[0..5]
    }
    await mined(f.c.ext.transfer(masters[6]!.address, 30_000n * EXT));
    await mined(f.as(masters[6]!).ext.approve(poolsAddr, 30_000n * EXT));
  });

  it("whitelist at opening, master-only, PoE-weighted; exactly 50% passes (tie rule)", async () => {
    const snap = await f.snapshot();
    // pool 6 dissolves before the vote opens: not whitelisted
    await mined(f.as(masters[5]!).pools.dissolve(6, 0));
    const tree = await anchorWeights([40n, 30n, 20n, 10n, 0n, 7n].map((x) => x * EXT));
    const cid = await passedProposal();
    await mined(f.c.senate.open(cid));
    const id = await f.c.senate.voteCount();
    const v = await f.c.senate.getVote(id);
    expect(v.totalWeight).toBe(107n * EXT);
    expect(v.weightPeriod).toBe(BigInt(period));
    await expectRevert(f.c.senate.open(cid), "RoundInProgressOrPassed");

    // pool 7 is created after the vote opened: not whitelisted, even claiming another pool's weight
    await mined(f.as(masters[6]!).pools.createPool());
    const s7 = f.as(masters[6]!).senate;
    await expectRevert(s7.castVote(id, 7, true, 40n * EXT, tree.proof(0)), "NotWhitelisted");
    await expectRevert(s7.castVote(id, 1, true, 40n * EXT, tree.proof(0)), "NotMaster");
    await expectRevert(
      f.as(masters[5]!).senate.castVote(id, 6, true, 7n * EXT, tree.proof(5)),
      "NotWhitelisted",
    );
    // wrong weight or someone else's proof
    const s1 = f.as(masters[0]!).senate;
    await expectRevert(s1.castVote(id, 1, true, 41n * EXT, tree.proof(0)), "InvalidWeightProof");
    await expectRevert(s1.castVote(id, 1, true, 30n * EXT, tree.proof(1)), "InvalidWeightProof");

    await mined(s1.castVote(id, 1, true, 40n * EXT, tree.proof(0)));
    await expectRevert(s1.castVote(id, 1, false, 40n * EXT, tree.proof(0)), "AlreadyVoted");
    await mined(f.as(masters[1]!).senate.castVote(id, 2, false, 30n * EXT, tree.proof(1)));
    await expectRevert(f.c.senate.finalize(id), "NotDecided");
    // master of pool 4 signs; anyone relays. Yes = 40 + 10 = 50 of 107 < 50%: not yet
    const sig4 = await signSenateBallot(f, masters[3]!, id, 4n, true, 10n * EXT);
    await expectRevert(
      f.c.senate.castVoteBySig(id, 4, false, 10n * EXT, tree.proof(3), sig4),
      "NotMaster", // the signature recovers to someone else for a different ballot
    );
    await mined(f.c.senate.castVoteBySig(id, 4, true, 10n * EXT, tree.proof(3), sig4));
    await expectRevert(f.c.senate.finalize(id), "NotDecided");
    // pool 6's 7 EXT counts in the total but cannot vote; pool 3 adds 20 -> 70 >= 53.5: passes early
    await mined(f.as(masters[2]!).senate.castVote(id, 3, true, 20n * EXT, tree.proof(2)));
    await mined(f.c.senate.finalize(id));
    expect((await f.c.senate.getVote(id)).status).toBe(PASSED);
    await expectRevert(f.c.senate.open(cid), "RoundInProgressOrPassed");
    await f.revert(snap);
  });

  it("exactly half the weight passes; rejected proposals get a new round with new weights", async () => {
    const snap = await f.snapshot();
    let tree = await anchorWeights([50n, 50n].map((x) => x * EXT));
    const cid = await passedProposal();
    await mined(f.c.senate.open(cid));
    let id = await f.c.senate.voteCount();
    await mined(f.as(masters[0]!).senate.castVote(id, 1, true, 50n * EXT, tree.proof(0)));
    await mined(f.c.senate.finalize(id)); // 50 of 100: exactly 50% passes
    expect((await f.c.senate.getVote(id)).status).toBe(PASSED);

    const cid2 = await passedProposal();
    await expectRevert(f.c.senate.open(999), "CongressNotPassed");
    // a day without any pool PoE cannot carry a Senate vote (it would pass with no votes)
    await anchorWeights([0n, 0n]);
    await expectRevert(f.c.senate.open(cid2), "NoSenateWeight");
    tree = await anchorWeights([50n, 50n].map((x) => x * EXT));
    await mined(f.c.senate.open(cid2));
    id = await f.c.senate.voteCount();
    await mined(f.as(masters[1]!).senate.castVote(id, 2, false, 50n * EXT, tree.proof(1)));
    await expectRevert(f.c.senate.finalize(id), "NotDecided"); // No = 50%: not yet certain
    await f.increaseTime(3 * DAY);
    await expectRevert(
      f.as(masters[0]!).senate.castVote(id, 1, true, 50n * EXT, tree.proof(0)),
      "VotingClosed",
    );
    await mined(f.c.senate.finalize(id)); // yes 0 < 50%
    expect((await f.c.senate.getVote(id)).status).toBe(REJECTED);
    // a new round, with the latest day's weights
    tree = await anchorWeights([10n, 90n].map((x) => x * EXT));
    await mined(f.c.senate.open(cid2));
    const id2 = await f.c.senate.voteCount();
    expect(await f.c.senate.latestVoteOf(cid2)).toBe(id2);
    await mined(f.as(masters[1]!).senate.castVote(id2, 2, true, 90n * EXT, tree.proof(1)));
    await mined(f.c.senate.finalize(id2));
    expect((await f.c.senate.getVote(id2)).status).toBe(PASSED);
    await f.revert(snap);
  });

  it("property: random weights and votes give outcome yes*2 >= total at the end", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.bigInt({ min: 1n, max: 10n ** 24n }), { minLength: 6, maxLength: 6 }),
        fc.array(fc.record({ pool: fc.integer({ min: 1, max: 6 }), support: fc.boolean() }), {
          maxLength: 10,
        }),
        async (weights, votes) => {
          const snap = await f.snapshot();
          try {
            const tree = await anchorWeights(weights);
            const cid = await passedProposal();
            await mined(f.c.senate.open(cid));
            const id = await f.c.senate.voteCount();
            const done = new Set<number>();
            let yes = 0n;
            let no = 0n;
            for (const v of votes) {
              const expected = done.has(v.pool) ? "AlreadyVoted" : undefined;
              let got: string | undefined;
              try {
                await mined(
                  f
                    .as(masters[v.pool - 1]!)
                    .senate.castVote(id, v.pool, v.support, weights[v.pool - 1]!, tree.proof(v.pool - 1)),
                );
              } catch (e) {
                got = revertName(e) ?? "unknown";
              }
              expect(got).toBe(expected);
              if (!expected) {
                done.add(v.pool);
                if (v.support) yes += weights[v.pool - 1]!;
                else no += weights[v.pool - 1]!;
              }
            }
            await f.increaseTime(3 * DAY);
            await mined(f.c.senate.finalize(id));
            const out = await f.c.senate.getVote(id);
            expect([out.yes, out.no]).toEqual([yes, no]);
            expect(out.status).toBe(yes * 2n >= tree.total ? PASSED : REJECTED);
          } finally {
            await f.revert(snap);
          }
        },
      ),
      { numRuns: 10 },
    );
  });
});
