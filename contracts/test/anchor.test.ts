import { MerkleSumTree, type SumNode, verifySumProof } from "@excraft/chain";
import { AbiCoder, encodeBytes32String, hexlify, keccak256, randomBytes, zeroPadValue } from "ethers";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { deployFixture, type Fixture } from "../scripts/lib/fixture.ts";
import { EXT, expectRevert, mined } from "./helpers.ts";

const coder = AbiCoder.defaultAbiCoder();
const userId = (n: number) => keccak256(coder.encode(["string", "uint256"], ["user", n]));

function anchorInput(
  period: number,
  users: MerkleSumTree,
  pools: MerkleSumTree,
  buyback = 0n,
  burnTx = `0x${"00".repeat(32)}`,
) {
  return {
    period,
    userRoot: users.root,
    totalPoe: users.total,
    poolRoot: pools.root,
    totalPoolPoe: pools.total,
    assets: [encodeBytes32String("BTC"), encodeBytes32String("ETH")],
    fees: [1_000n * EXT, 250n * EXT],
    buyback,
    burnTx,
  };
}

describe("PoEAnchor + ExtBurner (R-14, R-15, R-22, R-23)", () => {
  let f: Fixture;
  const poolTree = new MerkleSumTree([
    { id: zeroPadValue("0x01", 32), value: 10n * EXT },
    { id: zeroPadValue("0x02", 32), value: 5n * EXT },
  ]);
  beforeAll(async () => {
    f = await deployFixture({ periodBlocks: 1n });
  });

  it("burns the buy-back of a period and anchors it with the burn tx; totals and proofs check out", async () => {
    const snap = await f.snapshot();
    const { ext, burner, anchor } = f.c;
    const users = new MerkleSumTree([1, 2, 3, 4, 5].map((n) => ({ id: userId(n), value: BigInt(n) * EXT })));
    const supply = await ext.totalSupply();
    await mined(ext.transfer(await burner.getAddress(), 900n * EXT));
    const burnReceipt = await mined(burner.burn(1, 900n * EXT));
    expect(await ext.totalSupply()).toBe(supply - 900n * EXT);
    expect(await burner.burnedIn(1)).toBe(900n * EXT);
    const burnLog = burner.interface.parseLog(burnReceipt.logs.at(-1)!);
    expect(burnLog?.name).toBe("Burned");
    expect(burnLog?.args.period).toBe(1n);

    const input = anchorInput(1, users, poolTree, 900n * EXT, burnReceipt.hash);
    const receipt = await mined(anchor.anchor(input));
    const events = receipt.logs.map((l) => anchor.interface.parseLog(l)).filter((e) => e !== null);
    const anchored = events.find((e) => e.name === "Anchored")!;
    expect(anchored.args.totalPoe).toBe(15n * EXT);
    expect(anchored.args.totalFees).toBe(1_250n * EXT);
    expect(anchored.args.burnTx).toBe(burnReceipt.hash);
    const fees = events.find((e) => e.name === "FeesAnchored")!;
    expect([...fees.args.fees]).toEqual(input.fees);

    const rec = await anchor.record(1);
    expect(rec.userRoot).toBe(users.root);
    expect(rec.totalPoe).toBe(15n * EXT);
    expect(rec.detailsHash).toBe(
      keccak256(
        coder.encode(
          ["bytes32[]", "uint256[]", "uint256", "bytes32"],
          [input.assets, input.fees, input.buyback, input.burnTx],
        ),
      ),
    );
    expect(await anchor.latestPeriod()).toBe(1n);
    for (let i = 0; i < 5; i++) {
      expect(await anchor.verifyUserPoe(1, userId(i + 1), BigInt(i + 1) * EXT, users.proof(i))).toBe(true);
    }
    // a wrong amount, or a proof from another leaf, fails
    expect(await anchor.verifyUserPoe(1, userId(1), 2n * EXT, users.proof(0))).toBe(false);
    expect(await anchor.verifyUserPoe(1, userId(1), EXT, users.proof(1))).toBe(false);
    expect(await anchor.verifyPoolPoe(1, 2, 5n * EXT, poolTree.proof(1))).toBe(true);
    expect(await anchor.verifyPoolPoe(1, 2, 6n * EXT, poolTree.proof(1))).toBe(false);
    expect(await anchor.verifyUserPoe(2, userId(1), EXT, users.proof(0))).toBe(false); // not anchored

    // once per period
    await expectRevert(anchor.anchor(input), "AlreadyAnchored");
    await expectRevert(burner.burn(1, 1n), "AlreadyBurned");
    await f.revert(snap);
  });

  it("refuses: non-recorder, unfinished period, buy-back that differs from the burn, bad input", async () => {
    const snap = await f.snapshot();
    const users = new MerkleSumTree([{ id: userId(1), value: EXT }]);
    const { anchor, burner } = f.c;
    await expectRevert(
      f.as(f.wallets[3]!).anchor.anchor(anchorInput(1, users, poolTree)),
      "AccessControlUnauthorizedAccount",
    );
    const future = Number(await f.c.emission.currentPeriod()) + 5;
    await expectRevert(anchor.anchor(anchorInput(future, users, poolTree)), "PeriodNotEnded");
    await expectRevert(anchor.anchor(anchorInput(0, users, poolTree)), "PeriodNotEnded");
    await expectRevert(anchor.anchor(anchorInput(1, users, poolTree, 5n)), "BuybackMismatch");
    await expectRevert(anchor.anchor({ ...anchorInput(1, users, poolTree), fees: [1n] }), "LengthMismatch");
    await expectRevert(
      anchor.anchor({ ...anchorInput(1, users, poolTree), userRoot: `0x${"00".repeat(32)}` }),
      "EmptyRoot",
    );
    await expectRevert(f.as(f.wallets[3]!).burner.burn(1, 1n), "AccessControlUnauthorizedAccount");
    await expectRevert(burner.burn(future, 1n), "PeriodNotEnded");
    await expectRevert(burner.burn(1, 0n), "ZeroAmount");
    await expectRevert(burner.burn(1, 1n), "ERC20InsufficientBalance"); // burns only what it holds
    await f.revert(snap);
  });

  it("property: every leaf of a random tree verifies on chain and off chain; tampering never does", async () => {
    let period = Number(await f.c.emission.currentPeriod()) - 1;
    const leaves = fc.array(
      fc.record({
        id: fc.uint8Array({ minLength: 32, maxLength: 32 }),
        value: fc.bigInt({ min: 0n, max: 10n ** 30n }),
      }),
      { minLength: 1, maxLength: 40 },
    );
    await fc.assert(
      fc.asyncProperty(
        leaves,
        fc.nat(),
        fc.bigInt({ min: 1n, max: 10n ** 20n }),
        async (raw, pick, delta) => {
          const tree = new MerkleSumTree(raw.map((l) => ({ id: hexlify(l.id), value: l.value })));
          const total = raw.reduce((a, l) => a + l.value, 0n);
          expect(tree.total).toBe(total);
          await f.mine(1);
          period += 1;
          while (!(await f.c.emission.periodEnded(period))) await f.mine(1);
          await mined(f.c.anchor.anchor(anchorInput(period, tree, poolTree)));
          const i = pick % raw.length;
          const leaf = tree.leaves[i]!;
          const proof = tree.proof(i);
          expect(verifySumProof(proof, tree.root, tree.total, leaf.id, leaf.value)).toBe(true);
          expect(await f.c.anchor.verifyUserPoe(period, leaf.id, leaf.value, proof)).toBe(true);
          // understating a leaf value, or a sibling sum, or the total is detected
          expect(verifySumProof(proof, tree.root, tree.total, leaf.id, leaf.value + delta)).toBe(false);
          expect(await f.c.anchor.verifyUserPoe(period, leaf.id, leaf.value + delta, proof)).toBe(false);
          if (proof.length > 0) {
            const forged: SumNode[] = proof.map((n, k) => (k === 0 ? { ...n, sum: n.sum + delta } : n));
            expect(verifySumProof(forged, tree.root, tree.total, leaf.id, leaf.value)).toBe(false);
            expect(await f.c.anchor.verifyUserPoe(period, leaf.id, leaf.value, forged)).toBe(false);
          }
          expect(verifySumProof(proof, tree.root, tree.total - 1n, leaf.id, leaf.value)).toBe(false);
          expect(verifySumProof(proof, tree.root, tree.total, hexlify(randomBytes(32)), leaf.value)).toBe(
            false,
          );
        },
      ),
      { numRuns: 25 },
    );
  });
});
