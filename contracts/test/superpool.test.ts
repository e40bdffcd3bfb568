import { encodeBytes32String, Wallet } from "ethers";
import { beforeAll, describe, expect, it } from "vitest";
import { deployFixture, type Fixture } from "../scripts/lib/fixture.ts";
import { expectRevert, mined } from "./helpers.ts";

describe("SuperPoolBoard (R-56..R-58)", () => {
  let f: Fixture;
  let masters: Wallet[];
  const XYZ = encodeBytes32String("XYZ");
  beforeAll(async () => {
    f = await deployFixture({}, 32);
    masters = f.wallets.slice(1, 31); // 30 super pool masters
    await expectRevert(
      f.as(masters[0]!).board.setMasters(masters.map((m) => m.address)),
      "AccessControlUnauthorizedAccount",
    );
    await expectRevert(
      f.c.board.setMasters([...masters.map((m) => m.address), f.wallets[31]!.address]),
      "TooManyMasters",
    );
    await expectRevert(f.c.board.setMasters([masters[0]!.address, masters[0]!.address]), "NotMaster");
    await mined(f.c.board.setMasters(masters.map((m) => m.address)));
  });

  it("24 of 30 masters make a listing permanent; 23 do not; outsiders cannot approve", async () => {
    const snap = await f.snapshot();
    await expectRevert(f.c.board.setApproval(XYZ, true), "NotMaster"); // the deployer is not a master
    for (const m of masters.slice(0, 23)) await mined(f.as(m).board.setApproval(XYZ, true));
    await expectRevert(f.as(masters[0]!).board.setApproval(XYZ, true), "NoChange");
    expect(await f.c.board.approvals(XYZ)).toBe(23n);
    await expectRevert(f.c.board.makePermanent(XYZ), "NotEnoughApprovals");
    await mined(f.as(masters[23]!).board.setApproval(XYZ, true));
    const r = await mined(f.c.board.makePermanent(XYZ));
    const ev = f.c.board.interface.parseLog(r.logs[0]!)!;
    expect([ev.name, ev.args.approvals]).toEqual(["ListedPermanently", 24n]);
    expect(await f.c.board.permanent(XYZ)).toBe(true);
    await expectRevert(f.c.board.makePermanent(XYZ), "AlreadyPermanent");
    await expectRevert(f.as(masters[29]!).board.setApproval(XYZ, true), "AlreadyPermanent");
    await f.revert(snap);
  });

  it("approvals of former masters do not count; withdrawn approvals do not count", async () => {
    const snap = await f.snapshot();
    for (const m of masters.slice(0, 24)) await mined(f.as(m).board.setApproval(XYZ, true));
    await mined(f.as(masters[0]!).board.setApproval(XYZ, false));
    await expectRevert(f.c.board.makePermanent(XYZ), "NotEnoughApprovals");
    await mined(f.as(masters[0]!).board.setApproval(XYZ, true));
    // 5 approving masters lose the status before anyone finalizes
    const newSet = [...masters.slice(5), ...Array.from({ length: 5 }, () => Wallet.createRandom().address)];
    await mined(f.c.board.setMasters(newSet.map((m) => (typeof m === "string" ? m : m.address))));
    expect(await f.c.board.isMaster(masters[0]!.address)).toBe(false);
    expect(await f.c.board.approvals(XYZ)).toBe(19n);
    await expectRevert(f.c.board.makePermanent(XYZ), "NotEnoughApprovals");
    await expectRevert(f.as(masters[0]!).board.setApproval(XYZ, false), "NotMaster");
    await f.revert(snap);
  });

  it("a master lists on its own board once; others cannot", async () => {
    const snap = await f.snapshot();
    await expectRevert(f.c.board.listOnBoard(XYZ), "NotMaster");
    await mined(f.as(masters[3]!).board.listOnBoard(XYZ));
    expect(await f.c.board.boardListedBy(XYZ)).toBe(masters[3]!.address);
    await expectRevert(f.as(masters[4]!).board.listOnBoard(XYZ), "AlreadyListed");
    await f.revert(snap);
  });
});
