/**
 * Deploys the whole ExCraft contract set with one signer and returns the addresses (the JSON the services
 * read). Uses the generated bindings' bytecode unless `artifacts` overrides it (the contracts' tests pass
 * freshly compiled artifacts).
 */
import {
  ContractFactory,
  getCreateAddress,
  type InterfaceAbi,
  type Signer,
  type TransactionReceipt,
} from "ethers";
import {
  CongressAbi,
  CongressBytecode,
  EmissionScheduleAbi,
  EmissionScheduleBytecode,
  EXTAbi,
  EXTBytecode,
  ExtBurnerAbi,
  ExtBurnerBytecode,
  ExtVestingAbi,
  ExtVestingBytecode,
  PoEAnchorAbi,
  PoEAnchorBytecode,
  RewardDistributorAbi,
  RewardDistributorBytecode,
  SenateAbi,
  SenateBytecode,
  SuperPoolBoardAbi,
  SuperPoolBoardBytecode,
  TradingPoolsAbi,
  TradingPoolsBytecode,
} from "./generated/index.ts";

export type ContractKind =
  | "EXT"
  | "ExtVesting"
  | "EmissionSchedule"
  | "PoEAnchor"
  | "ExtBurner"
  | "RewardDistributor"
  | "TradingPools"
  | "Congress"
  | "Senate"
  | "SuperPoolBoard";

export type ArtifactSet = Record<ContractKind, { abi: InterfaceAbi; bytecode: string }>;

export const BUNDLED_ARTIFACTS: ArtifactSet = {
  EXT: { abi: EXTAbi as unknown as InterfaceAbi, bytecode: EXTBytecode },
  ExtVesting: { abi: ExtVestingAbi as unknown as InterfaceAbi, bytecode: ExtVestingBytecode },
  EmissionSchedule: {
    abi: EmissionScheduleAbi as unknown as InterfaceAbi,
    bytecode: EmissionScheduleBytecode,
  },
  PoEAnchor: { abi: PoEAnchorAbi as unknown as InterfaceAbi, bytecode: PoEAnchorBytecode },
  ExtBurner: { abi: ExtBurnerAbi as unknown as InterfaceAbi, bytecode: ExtBurnerBytecode },
  RewardDistributor: {
    abi: RewardDistributorAbi as unknown as InterfaceAbi,
    bytecode: RewardDistributorBytecode,
  },
  TradingPools: { abi: TradingPoolsAbi as unknown as InterfaceAbi, bytecode: TradingPoolsBytecode },
  Congress: { abi: CongressAbi as unknown as InterfaceAbi, bytecode: CongressBytecode },
  Senate: { abi: SenateAbi as unknown as InterfaceAbi, bytecode: SenateBytecode },
  SuperPoolBoard: { abi: SuperPoolBoardAbi as unknown as InterfaceAbi, bytecode: SuperPoolBoardBytecode },
};

/** Mainnet default: 7,200 blocks of 12 s = 1 day per period. */
export const DEFAULT_PERIOD_BLOCKS = 7_200n;
export const DEFAULT_EMISSION_CAP = 7_000_000_000n * 10n ** 18n;
const DAY = 86_400n;
const YEAR = 365n * DAY;

export interface DeployOptions {
  periodBlocks?: bigint;
  /** First block of period 1 (default: the block after the deployment starts). */
  startBlock?: bigint;
  emissionCap?: bigint;
  /** Seconds between proposing and accepting a reward root (default 1 day). */
  rewardTimelock?: bigint;
  congressVotingPeriod?: bigint;
  senateVotingPeriod?: bigint;
  /** Vesting start, unix seconds (default: now). */
  vestingStart?: bigint;
  /** Role holders and beneficiaries; each defaults to the deployer. */
  admin?: string;
  recorder?: string;
  burner?: string;
  rewardProposer?: string;
  guardian?: string;
  membership?: string;
  registrar?: string;
  saleTreasury?: string;
  teamBeneficiary?: string;
  ecosystemBeneficiary?: string;
  artifacts?: ArtifactSet;
  log?: (s: string) => void;
}

/** Addresses and parameters of one deployment (written as JSON by `npm run deploy`). */
export interface Deployment {
  chainId: number;
  deployer: string;
  deployedAtBlock: number;
  periodBlocks: string;
  startBlock: string;
  contracts: {
    EXT: string;
    teamVesting: string;
    ecosystemVesting: string;
    EmissionSchedule: string;
    poeRewards: string;
    posRewards: string;
    poolRewards: string;
    ExtBurner: string;
    PoEAnchor: string;
    TradingPools: string;
    Congress: string;
    Senate: string;
    SuperPoolBoard: string;
  };
  gasUsed: string;
}

export async function deployAll(signer: Signer, opts: DeployOptions = {}): Promise<Deployment> {
  const provider = signer.provider;
  if (!provider) throw new Error("signer needs a provider");
  const art = opts.artifacts ?? BUNDLED_ARTIFACTS;
  const log = opts.log ?? (() => {});
  const me = await signer.getAddress();
  const who = (a?: string) => a ?? me;
  const { chainId } = await provider.getNetwork();
  const block = await provider.getBlock("latest");
  if (!block) throw new Error("no latest block");
  const now = BigInt(block.timestamp);
  let gasUsed = 0n;
  let nonce = await provider.getTransactionCount(me, "pending");

  const deploy = async (kind: ContractKind, label: string, ...args: unknown[]): Promise<string> => {
    const f = new ContractFactory(art[kind].abi, art[kind].bytecode, signer);
    const c = await f.deploy(...args, { nonce: nonce++ });
    const receipt = (await c.deploymentTransaction()!.wait()) as TransactionReceipt;
    gasUsed += receipt.gasUsed;
    const address = await c.getAddress();
    log(`${label.padEnd(18)} ${address}  gas ${receipt.gasUsed}`);
    return address;
  };

  const start = opts.vestingStart ?? now;
  const teamVesting = await deploy(
    "ExtVesting",
    "teamVesting",
    who(opts.teamBeneficiary),
    start,
    4n * YEAR,
    YEAR,
  );
  const ecosystemVesting = await deploy(
    "ExtVesting",
    "ecosystemVesting",
    who(opts.ecosystemBeneficiary),
    start,
    2n * YEAR,
    0n,
  );
  // EXT mints to the EmissionSchedule, which needs EXT's address: predict it (6 deployments ahead).
  const tokenAddress = getCreateAddress({ from: me, nonce: nonce + 4 });
  const timelock = opts.rewardTimelock ?? DAY;
  const rewards = async (label: string) =>
    deploy(
      "RewardDistributor",
      label,
      who(opts.admin),
      who(opts.rewardProposer),
      who(opts.guardian),
      tokenAddress,
      timelock,
    );
  const poeRewards = await rewards("poeRewards");
  const posRewards = await rewards("posRewards");
  const poolRewards = await rewards("poolRewards");
  const periodBlocks = opts.periodBlocks ?? DEFAULT_PERIOD_BLOCKS;
  const startBlock = opts.startBlock ?? BigInt(block.number) + 1n;
  const emission = await deploy(
    "EmissionSchedule",
    "EmissionSchedule",
    tokenAddress,
    periodBlocks,
    startBlock,
    opts.emissionCap ?? DEFAULT_EMISSION_CAP,
    poeRewards,
    posRewards,
    poolRewards,
  );
  const token = await deploy("EXT", "EXT", emission, who(opts.saleTreasury), ecosystemVesting, teamVesting);
  if (token.toLowerCase() !== tokenAddress.toLowerCase()) {
    throw new Error(
      `EXT deployed at ${token}, expected ${tokenAddress} (was the deployer used concurrently?)`,
    );
  }
  const burner = await deploy("ExtBurner", "ExtBurner", who(opts.admin), who(opts.burner), token, emission);
  const anchor = await deploy(
    "PoEAnchor",
    "PoEAnchor",
    who(opts.admin),
    who(opts.recorder),
    emission,
    burner,
  );
  const pools = await deploy("TradingPools", "TradingPools", token);
  const congress = await deploy(
    "Congress",
    "Congress",
    who(opts.admin),
    who(opts.membership),
    opts.congressVotingPeriod ?? 3n * DAY,
  );
  const senate = await deploy(
    "Senate",
    "Senate",
    congress,
    pools,
    anchor,
    opts.senateVotingPeriod ?? 3n * DAY,
  );
  const board = await deploy("SuperPoolBoard", "SuperPoolBoard", who(opts.admin), who(opts.registrar));
  return {
    chainId: Number(chainId),
    deployer: me,
    deployedAtBlock: block.number,
    periodBlocks: periodBlocks.toString(),
    startBlock: startBlock.toString(),
    contracts: {
      EXT: token,
      teamVesting,
      ecosystemVesting,
      EmissionSchedule: emission,
      poeRewards,
      posRewards,
      poolRewards,
      ExtBurner: burner,
      PoEAnchor: anchor,
      TradingPools: pools,
      Congress: congress,
      Senate: senate,
      SuperPoolBoard: board,
    },
    gasUsed: gasUsed.toString(),
  };
}
