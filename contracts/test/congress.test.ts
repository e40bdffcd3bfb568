import { encodeBytes32String, Wallet } from "ethers";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { deployFixture, type Fixture } from "../scripts/lib/fixture.ts";
import { congressTree, signBallot } from "./dao-helpers.ts";
import { DAY, expectRevert, mined, revertName } from "./helpers.ts";

const PASSED = 2n;
const REJECTED = 3n;

describe("Congress (R-50..R-53)", () => {
  let f: Fixture;
  let members: Wallet[];
  let term: ReturnType<typeof congressTree>;
  const content = encodeBytes32String("list XYZ/USDT");
  beforeAll(async () => {
    f = await deployFixture();
    members = f.wallets.slice(0, 15);
    // 101 members: 15 with keys here, 86 others
    const others = Array.from({ length: 86 }, () => Wallet.createRandom().address);
    term = congressTree([...members.map((m) => m.address), ...others]);
    await expectRevert(
      f.as(f.wallets[19]!).congress.startTerm(term.root, 1, 101),
      "AccessControlUnauthorizedAccount",
    );
    await expectRevert(f.c.congress.startTerm(term.root, 1, 102), "TooManyMembers");
    await mined(f.c.congress.startTerm(term.root, 1, 101));
  });

  it("only members propose; members vote once, directly or by EIP-712 signature; Yes > No passes", async () => {
    const snap = await f.snapshot();
    const outsider = f.as(f.wallets[19]!);
    await expectRevert(outsider.congress.propose(content, "ipfs://x", []), "NotMember");
    await expectRevert(
      outsider.congress.propose(content, "ipfs://x", term.proof(members[0]!.address)),
      "NotMember",
    );
    const m0 = f.as(members[0]!);
    await mined(m0.congress.propose(content, "ipfs://x", term.proof(members[0]!.address)));
    const id = await f.c.congress.proposalCount();

    await mined(m0.congress.castVote(id, true, term.proof(members[0]!.address)));
    await expectRevert(m0.congress.castVote(id, false, term.proof(members[0]!.address)), "AlreadyVoted");
    await expectRevert(outsider.congress.castVote(id, true, term.proof(members[1]!.address)), "NotMember");

    // member 1 signs in MetaMask; the outsider relays it
    const sig = await signBallot(f, members[1]!, id, true);
    const proof1 = term.proof(members[1]!.address);
    await expectRevert(
      outsider.congress.castVoteBySig(id, false, members[1]!.address, proof1, sig),
      "InvalidSignature",
    );
    const forged = await signBallot(f, members[2]!, id, true, members[1]!.address);
    await expectRevert(
      outsider.congress.castVoteBySig(id, true, members[1]!.address, proof1, forged),
      "InvalidSignature",
    );
    const r = await mined(outsider.congress.castVoteBySig(id, true, members[1]!.address, proof1, sig));
    const ev = f.c.congress.interface.parseLog(r.logs[0]!)!;
    expect([ev.name, ev.args.voter, ev.args.support, ev.args.bySignature]).toEqual([
      "VoteCast",
      members[1]!.address,
      true,
      true,
    ]);
    await expectRevert(
      outsider.congress.castVoteBySig(id, true, members[1]!.address, proof1, sig),
      "AlreadyVoted",
    );
    await mined(f.as(members[2]!).congress.castVote(id, false, term.proof(members[2]!.address)));

    await expectRevert(f.c.congress.finalize(id), "VotingOpen");
    await f.increaseTime(3 * DAY);
    await expectRevert(
      f.as(members[3]!).congress.castVote(id, true, term.proof(members[3]!.address)),
      "VotingClosed",
    );
    await mined(f.c.congress.finalize(id));
    expect(await f.c.congress.status(id)).toBe(PASSED);
    const p = await f.c.congress.proposal(id);
    expect([p.yes, p.no]).toEqual([2n, 1n]);
    await expectRevert(f.c.congress.finalize(id), "AlreadyFinalized");
    await f.revert(snap);
  });

  it("a tie fails; a new term replaces the members for new proposals", async () => {
    const snap = await f.snapshot();
    const m0 = f.as(members[0]!);
    await mined(m0.congress.propose(content, "", term.proof(members[0]!.address)));
    const id = await f.c.congress.proposalCount();
    await mined(m0.congress.castVote(id, true, term.proof(members[0]!.address)));
    await mined(f.as(members[1]!).congress.castVote(id, false, term.proof(members[1]!.address)));
    await f.increaseTime(3 * DAY);
    await mined(f.c.congress.finalize(id));
    expect(await f.c.congress.status(id)).toBe(REJECTED);

    const term2 = congressTree([members[5]!.address]);
    await mined(f.c.congress.startTerm(term2.root, 2, 1));
    await expectRevert(m0.congress.propose(content, "", term.proof(members[0]!.address)), "NotMember");
    await mined(f.as(members[5]!).congress.propose(content, "", term2.proof(members[5]!.address)));
    await f.revert(snap);
  });

  it("property: random votes (with repeats, outsiders, signatures) give the modelled tally and outcome", async () => {
    const vote = fc.record({
      who: fc.integer({ min: 0, max: 16 }), // 15, 16 are outsiders
      support: fc.boolean(),
      bySig: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(vote, { minLength: 0, maxLength: 14 }), async (votes) => {
        const snap = await f.snapshot();
        try {
          await mined(f.c.congress.propose(content, "", term.proof(members[0]!.address)));
          const id = await f.c.congress.proposalCount();
          const voted = new Set<number>();
          let yes = 0n;
          let no = 0n;
          for (const v of votes) {
            const w = f.wallets[v.who]!;
            const proof = term.proof(w.address);
            const expected = v.who >= 15 ? "NotMember" : voted.has(v.who) ? "AlreadyVoted" : undefined;
            let got: string | undefined;
            try {
              if (v.bySig) {
                const sig = await signBallot(f, w, id, v.support);
                await mined(
                  f.as(f.wallets[19]!).congress.castVoteBySig(id, v.support, w.address, proof, sig),
                );
              } else {
                await mined(f.as(w).congress.castVote(id, v.support, proof));
              }
            } catch (e) {
              got = revertName(e) ?? "unknown";
            }
            expect(got).toBe(expected);
            if (!expected) {
              voted.add(v.who);
              if (v.support) yes++;
              else no++;
            }
          }
          await f.increaseTime(3 * DAY);
          await mined(f.c.congress.finalize(id));
          const p = await f.c.congress.proposal(id);
          expect([p.yes, p.no]).toEqual([yes, no]);
          expect(await f.c.congress.status(id)).toBe(yes > no ? PASSED : REJECTED);
        } finally {
          await f.revert(snap);
        }
      }),
      { numRuns: 12 },
    );
  });
});
