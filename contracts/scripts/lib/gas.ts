/**
 * Gas of the main user actions, measured on the in-process EVM with realistic tree sizes (worst case:
 * first touch of every storage slot). Used by `npm run gas` and by test/gas.test.ts (targets).
 */
import { claimLeaf, MerkleSumTree, MerkleTree, memberLeaf } from "@excraft/chain";
import { encodeBytes32String, keccak256, toUtf8Bytes, Wallet, zeroPadValue } from "ethers";
import { deployFixture } from "./fixture.ts";

export interface GasRow {
  action: string;
  contract: string;
  gasUsed: number;
  target: number | null;
  detail: string;
}

const EXT = 10n ** 18n;

export async function measureGas(log: (s: string) => void = () => {}): Promise<GasRow[]> {
  const f = await deployFixture({ periodBlocks: 1n }, 12);
  const rows: GasRow[] = [];
  const record = async (
    action: string,
    contract: string,
    target: number | null,
    detail: string,
    tx: Promise<{ wait(): Promise<{ gasUsed: bigint } | null> }>,
  ) => {
    const r = await (await tx).wait();
    const gasUsed = Number(r!.gasUsed);
    rows.push({ action, contract, gasUsed, target, detail });
    log(`${action}: ${gasUsed}`);
  };
  const [, alice, bob, carol] = f.wallets as [Wallet, Wallet, Wallet, Wallet];

  // claim: 10,000 wallets in the cumulative tree (proof depth 14); first claim of the wallet
  const n = 10_000;
  const accounts = [
    alice.address,
    ...Array.from({ length: n - 1 }, (_, i) => `0x${(i + 1).toString(16).padStart(40, "0")}`),
  ];
  const tree = new MerkleTree(accounts.map((a, i) => claimLeaf(a, BigInt(i + 1) * EXT)));
  await (await f.c.ext.transfer(f.deployment.contracts.poeRewards, 100_000_000n * EXT)).wait();
  await (await f.c.poeRewards.proposeRoot(1, tree.root, (BigInt(n) * BigInt(n + 1) * EXT) / 2n)).wait();
  await f.increaseTime(86_400);
  await (await f.c.poeRewards.acceptRoot()).wait();
  // someone claimed before (the distributor's own slots are warm-ish in steady state)
  await (await f.c.poeRewards.claim(accounts[1]!, 2n * EXT, tree.proof(1))).wait();
  await record(
    "claim",
    "RewardDistributor",
    100_000,
    `wallet's first claim, holds no EXT yet; ${n} leaves (proof ${tree.proof(0).length})`,
    f.as(alice).poeRewards.claim(alice.address, EXT, tree.proof(0)),
  );
  const tree2 = new MerkleTree(accounts.map((a, i) => claimLeaf(a, BigInt(i + 2) * EXT)));
  await (await f.c.poeRewards.proposeRoot(2, tree2.root, (BigInt(n) * BigInt(n + 3) * EXT) / 2n)).wait();
  await f.increaseTime(86_400);
  await (await f.c.poeRewards.acceptRoot()).wait();
  await record(
    "claim (repeat)",
    "RewardDistributor",
    100_000,
    "same wallet, next period's root",
    f.as(alice).poeRewards.claim(alice.address, 2n * EXT, tree2.proof(0)),
  );

  // vote: 101 congress members (proof depth 7); first vote on the proposal, then a relayed signed vote
  const members = [alice, bob, carol].map((w) => w.address);
  const all = [...members, ...Array.from({ length: 98 }, () => Wallet.createRandom().address)];
  const mt = new MerkleTree(all.map(memberLeaf));
  await (await f.c.congress.startTerm(mt.root, 1, 101)).wait();
  await (await f.as(alice).congress.propose(encodeBytes32String("x"), "ipfs://x", mt.proof(0))).wait();
  await record(
    "vote",
    "Congress",
    90_000,
    "castVote, 101 members",
    f.as(alice).congress.castVote(1, true, mt.proof(0)),
  );
  const sig = await bob.signTypedData(
    {
      name: "ExCraft Congress",
      version: "1",
      chainId: 31337,
      verifyingContract: f.deployment.contracts.Congress,
    },
    {
      Ballot: [
        { name: "proposalId", type: "uint256" },
        { name: "support", type: "bool" },
        { name: "voter", type: "address" },
      ],
    },
    { proposalId: 1n, support: false, voter: bob.address },
  );
  await record(
    "vote by signature",
    "Congress",
    90_000,
    "castVoteBySig (EIP-712), relayed",
    f.as(carol).congress.castVoteBySig(1, false, bob.address, mt.proof(1), sig),
  );

  // stake: create a pool (30,000 EXT, approved beforehand)
  await (await f.c.ext.transfer(alice.address, 30_000n * EXT)).wait();
  await (await f.as(alice).ext.approve(f.deployment.contracts.TradingPools, 30_000n * EXT)).wait();
  await record(
    "stake (create pool)",
    "TradingPools",
    null,
    "transferFrom 30,000 EXT",
    f.as(alice).pools.createPool(),
  );

  // the day's top 101 pools (Senate weights), pool i+1 has PoE i+1 EXT
  const pools = new MerkleSumTree(
    Array.from({ length: 101 }, (_, i) => ({
      id: zeroPadValue(`0x${(i + 1).toString(16).padStart(2, "0")}`, 32),
      value: BigInt(i + 1) * EXT,
    })),
  );

  // anchor: the daily write (3 fee assets, with the period's burn); the contract's very first anchor
  // also initialises `latestPeriod` (+17k once) and is reported separately
  const anchorOnce = async (label: string, target: number | null, detail: string) => {
    await (await f.c.ext.transfer(f.deployment.contracts.ExtBurner, 1_000n * EXT)).wait();
    const period = Number(await f.c.emission.currentPeriod()) - 1;
    await record(
      "burn",
      "ExtBurner",
      null,
      "burn the period's buy-back",
      f.c.burner.burn(period, 1_000n * EXT),
    );
    await anchorPeriod(label, target, detail, period);
  };
  const anchorPeriod = async (label: string, target: number | null, detail: string, period: number) => {
    const users = new MerkleSumTree([{ id: keccak256(toUtf8Bytes("u")), value: 5n * EXT }]);
    await record(
      label,
      "PoEAnchor",
      target,
      detail,
      f.c.anchor.anchor({
        period,
        userRoot: users.root,
        totalPoe: users.total,
        poolRoot: pools.root,
        totalPoolPoe: pools.total,
        assets: ["BTC", "ETH", "USDT"].map((s) => encodeBytes32String(s)),
        fees: [100n * EXT, 50n * EXT, 25n * EXT],
        buyback: 1_000n * EXT,
        burnTx: keccak256(toUtf8Bytes("burn-tx")),
      }),
    );
  };
  await anchorOnce("anchor (first ever)", null, "first record of the contract");
  rows.splice(
    rows.findIndex((r) => r.action === "burn"),
    1,
  );
  await anchorOnce("anchor", 150_000, "daily record: 3 assets, user + pool sum roots");
  await record(
    "release emission",
    "EmissionSchedule",
    null,
    "one period, 3 transfers",
    f.c.emission.release(),
  );

  // Senate vote: alice's pool 1 votes with its PoE of the latest anchored day
  await (await f.as(alice).congress.propose(encodeBytes32String("y"), "", mt.proof(0))).wait();
  await (await f.as(alice).congress.castVote(2, true, mt.proof(0))).wait();
  await f.increaseTime(3 * 86_400);
  await (await f.c.congress.finalize(2)).wait();
  await (await f.c.senate.open(2)).wait();
  await record(
    "senate vote",
    "Senate",
    90_000,
    "pool master; PoE weight proof in a 101-pool sum tree",
    f.as(alice).senate.castVote(1, 1, true, EXT, pools.proof(0)),
  );
  return rows;
}

export function formatGasTable(rows: GasRow[]): string {
  const head = ["action", "contract", "gas", "target", "ok", "detail"];
  const body = rows.map((r) => [
    r.action,
    r.contract,
    String(r.gasUsed),
    r.target === null ? "-" : String(r.target),
    r.target === null ? "" : r.gasUsed <= r.target ? "yes" : "NO",
    r.detail,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ");
  return [line(head), widths.map((w) => "-".repeat(w)).join("-|-"), ...body.map(line)].join("\n");
}
