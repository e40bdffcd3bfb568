import { beforeAll, describe, expect, it } from "vitest";
import { deployFixture, type Fixture } from "../scripts/lib/fixture.ts";
import { EXT, expectRevert, mined } from "./helpers.ts";

const STAKE = 30_000n * EXT;
const HOUR = 3600;

describe("TradingPools (R-40, R-45)", () => {
  let f: Fixture;
  beforeAll(async () => {
    f = await deployFixture();
    for (const w of f.wallets.slice(1, 4)) await mined(f.c.ext.transfer(w.address, 100_000n * EXT));
  });

  it("creating a pool takes exactly 30,000 EXT; without allowance it fails", async () => {
    const snap = await f.snapshot();
    const alice = f.wallets[1]!;
    const a = f.as(alice);
    const pools = await a.pools.getAddress();
    await expectRevert(a.pools.createPool(), "ERC20InsufficientAllowance");
    await mined(a.ext.approve(pools, STAKE - 1n));
    await expectRevert(a.pools.createPool(), "ERC20InsufficientAllowance");
    await mined(a.ext.approve(pools, 10n * STAKE));
    const before = await a.ext.balanceOf(alice.address);
    await mined(a.pools.createPool());
    expect(before - (await a.ext.balanceOf(alice.address))).toBe(STAKE);
    expect(await a.ext.balanceOf(pools)).toBe(STAKE);
    expect(await a.pools.masterOf(1)).toBe(alice.address);
    expect(await a.pools.isLive(1)).toBe(true);
    expect(await a.pools.poolCount()).toBe(1n);
    // a user with less than the stake cannot create one
    const poor = f.as(f.wallets[9]!);
    await mined(poor.ext.approve(pools, STAKE));
    await expectRevert(poor.pools.createPool(), "ERC20InsufficientBalance");
    await f.revert(snap);
  });

  it("dissolve: master only, successor must be live; stake withdrawable 24 h after, not before, once", async () => {
    const snap = await f.snapshot();
    const [alice, bob] = [f.wallets[1]!, f.wallets[2]!];
    const a = f.as(alice);
    const b = f.as(bob);
    const pools = await a.pools.getAddress();
    await mined(a.ext.approve(pools, STAKE));
    await mined(a.pools.createPool()); // 1
    await mined(b.ext.approve(pools, 2n * STAKE));
    await mined(b.pools.createPool()); // 2
    await mined(b.pools.createPool()); // 3

    await expectRevert(b.pools.dissolve(1, 0), "NotMaster");
    await expectRevert(a.pools.dissolve(1, 1), "InvalidSuccessor");
    await expectRevert(a.pools.dissolve(1, 99), "InvalidSuccessor");
    await expectRevert(a.pools.withdrawStake(1), "NotDissolved");
    const r = await mined(a.pools.dissolve(1, 2)); // members move to pool 2
    const ev = a.pools.interface.parseLog(r.logs[0]!)!;
    expect(ev.name).toBe("PoolDissolved");
    expect(ev.args.successor).toBe(2n);
    await expectRevert(a.pools.dissolve(1, 0), "NotLive");
    await expectRevert(b.pools.dissolve(2, 1), "InvalidSuccessor"); // 1 is dissolved

    await expectRevert(a.pools.withdrawStake(1), "StakeLocked");
    await f.increaseTime(23 * HOUR);
    await expectRevert(a.pools.withdrawStake(1), "StakeLocked");
    await expectRevert(b.pools.withdrawStake(1), "NotMaster");
    await f.increaseTime(HOUR);
    const before = await a.ext.balanceOf(alice.address);
    await mined(a.pools.withdrawStake(1));
    expect((await a.ext.balanceOf(alice.address)) - before).toBe(STAKE);
    await expectRevert(a.pools.withdrawStake(1), "AlreadyWithdrawn");
    expect(await a.ext.balanceOf(pools)).toBe(2n * STAKE);
    await mined(b.pools.dissolve(3, 0)); // eject all members
    expect(await b.pools.isLive(3)).toBe(false);
    await f.revert(snap);
  });
});
