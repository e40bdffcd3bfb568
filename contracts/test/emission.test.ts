import { connectEmissionSchedule } from "@excraft/chain";
import { ContractFactory } from "ethers";
import { beforeAll, describe, expect, it } from "vitest";
import { deployFixture, type Fixture } from "../scripts/lib/fixture.ts";
import { EXT, expectRevert, mined } from "./helpers.ts";

const PERIODS = 74_037;
const CAP = 7_000_000_000n * EXT;
const GRANULARITY = 10n ** 12n;

/** Float reference of R-13 (EXT). */
function y(x: number): number {
  return 3293005.88008333 * Math.exp(-(((Math.log((x + 5) / 365) + 0.5) / 2) ** 2));
}

describe("EmissionSchedule (R-12, R-13)", () => {
  let f: Fixture;
  beforeAll(async () => {
    f = await deployFixture();
  });

  it("matches the R-13 check values", async () => {
    const e = f.c.emission;
    const y1 = await e.periodEmission(1);
    expect(Number(y1) / 1e18).toBeCloseTo(127_089.469, 3);
    let best = 0n;
    let bestX = 0;
    for (let x = 200; x <= 232; x++) {
      const v = await e.periodEmission(x);
      if (v > best) [best, bestX] = [v, x];
    }
    expect(bestX).toBe(216);
    expect(Number(best) / 1e18).toBeCloseTo(3_293_003.4029, 3);
    expect(await e.periodEmission(0)).toBe(0n);
    expect(await e.periodEmission(PERIODS + 1)).toBe(0n);
    expect(await e.periodEmission(PERIODS)).toBeGreaterThan(0n);
  });

  it("agrees with the real-valued formula on a sample, rounded down to 1e-6 EXT", async () => {
    const e = f.c.emission;
    for (const x of [1, 2, 3, 10, 100, 216, 365, 1000, 5000, 20_000, 50_000, 74_036, PERIODS]) {
      const v = await e.periodEmission(x);
      expect(v % GRANULARITY).toBe(0n);
      const ref = y(x);
      const got = Number(v) / 1e18;
      expect(got).toBeLessThanOrEqual(ref + ref * 1e-12);
      expect(ref - got).toBeLessThan(1e-6 + ref * 1e-12);
    }
  });

  it("splits each period 40:20:10 exactly", async () => {
    for (const x of [1, 216, 74_037]) {
      const [poe, pos, pools] = await f.c.emission.splitEmission(x);
      const total = await f.c.emission.periodEmission(x);
      expect(poe + pos + pools).toBe(total);
      expect(poe).toBe((total * 4n) / 7n);
      expect(pos).toBe((total * 2n) / 7n);
    }
  });

  it("releases each period once, only after it ended, to the three distributors", async () => {
    const snap = await f.snapshot();
    const { emission, ext } = f.c;
    const d = f.deployment.contracts;
    const periodBlocks = Number(f.deployment.periodBlocks);
    const start = Number(f.deployment.startBlock);
    // move to 6 blocks before the end of period 4 (each release below mines one block)
    const end4 = start + 4 * periodBlocks;
    await f.mine(end4 - 6 - (await f.provider.getBlockNumber()));
    expect(await emission.currentPeriod()).toBe(4n);
    // periods 1..3 have ended: exactly three releases succeed, then the fourth is refused
    for (let i = 0; i < 3; i++) await mined(emission.release());
    expect(await emission.lastReleasedPeriod()).toBe(3n);
    await expectRevert(emission.release(), "PeriodNotEnded");
    await f.mine(3);
    await mined(emission.release());
    await expectRevert(emission.release(), "PeriodNotEnded"); // at most once per period
    expect(await emission.lastReleasedPeriod()).toBe(4n);
    let poe = 0n;
    let pos = 0n;
    let pools = 0n;
    let total = 0n;
    for (let p = 1; p <= 4; p++) {
      const s = await emission.splitEmission(p);
      poe += s[0];
      pos += s[1];
      pools += s[2];
      total += await emission.periodEmission(p);
    }
    expect(await ext.balanceOf(d.poeRewards)).toBe(poe);
    expect(await ext.balanceOf(d.posRewards)).toBe(pos);
    expect(await ext.balanceOf(d.poolRewards)).toBe(pools);
    expect(await emission.totalReleased()).toBe(total);
    const logs = await emission.queryFilter(emission.filters.Released!(), 0);
    expect(logs.length).toBe(4);
    await f.revert(snap);
  });

  it("never releases more than the cap (cap logic exercised with a small cap)", async () => {
    const cap = 200_000n * EXT;
    const g = await deployFixture({ emissionCap: cap }, 2);
    const { emission, ext } = g.c;
    await g.mine(60);
    await mined(emission.release()); // 127,089.469144 EXT
    expect(await emission.totalReleased()).toBe(await emission.periodEmission(1));
    await mined(emission.release()); // y(2) ≈ 140k > what is left: capped
    expect(await emission.totalReleased()).toBe(cap);
    await mined(emission.release()); // nothing left
    expect(await emission.totalReleased()).toBe(cap);
    const held = await ext.balanceOf(g.deployment.contracts.EmissionSchedule);
    expect(held).toBe(7_000_000_000n * EXT - cap);
  });

  it("rejects a cap above 7e9 EXT and a zero period length", async () => {
    const a = f.artifacts.EmissionSchedule;
    const factory = new ContractFactory(a.abi, a.bytecode, f.deployer);
    const addr = f.deployer.address;
    await expectRevert(factory.deploy(addr, 10, 1, CAP + 1n, addr, addr, addr), "InvalidConfig");
    await expectRevert(factory.deploy(addr, 0, 1, CAP, addr, addr, addr), "InvalidConfig");
    const ok = await factory.deploy(addr, 10, 1, CAP, addr, addr, addr);
    expect(await connectEmissionSchedule(await ok.getAddress(), f.deployer).emissionCap()).toBe(CAP);
  });
});
