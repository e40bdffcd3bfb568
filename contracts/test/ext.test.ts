import { connectExtVesting } from "@excraft/chain";
import { Signature } from "ethers";
import { beforeAll, describe, expect, it } from "vitest";
import { deployFixture, type Fixture } from "../scripts/lib/fixture.ts";
import { DAY, EXT, expectRevert, mined } from "./helpers.ts";

describe("EXT token (R-10, R-11)", () => {
  let f: Fixture;
  beforeAll(async () => {
    f = await deployFixture();
  });

  it("mints 10,000,000,000 EXT once, to the R-11 allocation", async () => {
    const { ext } = f.c;
    const d = f.deployment.contracts;
    expect(await ext.totalSupply()).toBe(10_000_000_000n * EXT);
    expect(await ext.decimals()).toBe(18n);
    expect(await ext.symbol()).toBe("EXT");
    // PoE 40% + PoS 20% + pools 10% held by the emission schedule
    expect(await ext.balanceOf(d.EmissionSchedule)).toBe(7_000_000_000n * EXT);
    expect(await ext.balanceOf(f.deployer.address)).toBe(1_000_000_000n * EXT); // sale treasury
    expect(await ext.balanceOf(d.ecosystemVesting)).toBe(1_000_000_000n * EXT);
    expect(await ext.balanceOf(d.teamVesting)).toBe(1_000_000_000n * EXT);
    const logs = await ext.queryFilter(ext.filters.Allocated!(), 0);
    expect(logs.length).toBe(6);
    // no mint entry point exists
    expect(ext.interface.getFunction("mint")).toBeNull();
  });

  it("team vesting: nothing before the 1-year cliff, linear over 4 years", async () => {
    const snap = await f.snapshot();
    const team = connectExtVesting(f.deployment.contracts.teamVesting, f.deployer);
    const token = f.deployment.contracts.EXT;
    expect(await team["releasable(address)"]!(token)).toBe(0n);
    await f.increaseTime(364 * DAY);
    expect(await team["releasable(address)"]!(token)).toBe(0n);
    await f.increaseTime(2 * DAY);
    const r = await team["releasable(address)"]!(token);
    expect(r).toBeGreaterThan(250_000_000n * EXT);
    expect(r).toBeLessThan(251_000_000n * EXT);
    await f.increaseTime(4 * 365 * DAY);
    await mined(team["release(address)"]!(token));
    expect(await f.c.ext.balanceOf(f.deployer.address)).toBe(2_000_000_000n * EXT);
    await f.revert(snap);
  });

  it("ecosystem vesting: linear over 2 years, no cliff", async () => {
    const snap = await f.snapshot();
    const eco = connectExtVesting(f.deployment.contracts.ecosystemVesting, f.deployer);
    const token = f.deployment.contracts.EXT;
    await f.increaseTime(365 * DAY);
    const r = await eco["releasable(address)"]!(token);
    expect(r).toBeGreaterThan(499_000_000n * EXT);
    expect(r).toBeLessThanOrEqual(501_000_000n * EXT);
    await f.revert(snap);
  });

  it("burn reduces the total supply; permit and votes work", async () => {
    const snap = await f.snapshot();
    const [owner, spender] = [f.wallets[0]!, f.wallets[1]!];
    const { ext } = f.c;
    await mined(ext.burn(5n * EXT));
    expect(await ext.totalSupply()).toBe(10_000_000_000n * EXT - 5n * EXT);

    const deadline = BigInt((await f.provider.getBlock("latest"))!.timestamp + 3600);
    const sig = Signature.from(
      await owner.signTypedData(
        { name: "ExCraft Token", version: "1", chainId: 31337, verifyingContract: await ext.getAddress() },
        {
          Permit: [
            { name: "owner", type: "address" },
            { name: "spender", type: "address" },
            { name: "value", type: "uint256" },
            { name: "nonce", type: "uint256" },
            { name: "deadline", type: "uint256" },
          ],
        },
        { owner: owner.address, spender: spender.address, value: 7n * EXT, nonce: 0n, deadline },
      ),
    );
    await mined(
      f.as(spender).ext.permit(owner.address, spender.address, 7n * EXT, deadline, sig.v, sig.r, sig.s),
    );
    expect(await ext.allowance(owner.address, spender.address)).toBe(7n * EXT);
    await expectRevert(
      f.as(spender).ext.permit(owner.address, spender.address, 7n * EXT, deadline, sig.v, sig.r, sig.s),
      "ERC2612InvalidSigner",
    );

    await mined(ext.delegate(owner.address));
    expect(await ext.getVotes(owner.address)).toBe(await ext.balanceOf(owner.address));
    await f.revert(snap);
  });
});
