/** Reading a deployment file and connecting typed contract handles to it. */
import { readFileSync } from "node:fs";
import type { ContractRunner } from "ethers";
import type { Deployment } from "./deploy.ts";
import {
  type Congress,
  connectCongress,
  connectEmissionSchedule,
  connectEXT,
  connectExtBurner,
  connectPoEAnchor,
  connectRewardDistributor,
  connectSenate,
  connectSuperPoolBoard,
  connectTradingPools,
  type EmissionSchedule,
  type EXT,
  type ExtBurner,
  type PoEAnchor,
  type RewardDistributor,
  type Senate,
  type SuperPoolBoard,
  type TradingPools,
} from "./generated/index.ts";

export function loadDeployment(file: string): Deployment {
  const d = JSON.parse(readFileSync(file, "utf8")) as Deployment;
  if (!d.contracts?.EXT) throw new Error(`${file} is not an ExCraft deployment file`);
  return d;
}

export interface ExcraftContracts {
  ext: EXT;
  emission: EmissionSchedule;
  poeRewards: RewardDistributor;
  posRewards: RewardDistributor;
  poolRewards: RewardDistributor;
  burner: ExtBurner;
  anchor: PoEAnchor;
  pools: TradingPools;
  congress: Congress;
  senate: Senate;
  board: SuperPoolBoard;
}

export function connectAll(d: Deployment, runner: ContractRunner | null): ExcraftContracts {
  const c = d.contracts;
  return {
    ext: connectEXT(c.EXT, runner),
    emission: connectEmissionSchedule(c.EmissionSchedule, runner),
    poeRewards: connectRewardDistributor(c.poeRewards, runner),
    posRewards: connectRewardDistributor(c.posRewards, runner),
    poolRewards: connectRewardDistributor(c.poolRewards, runner),
    burner: connectExtBurner(c.ExtBurner, runner),
    anchor: connectPoEAnchor(c.PoEAnchor, runner),
    pools: connectTradingPools(c.TradingPools, runner),
    congress: connectCongress(c.Congress, runner),
    senate: connectSenate(c.Senate, runner),
    board: connectSuperPoolBoard(c.SuperPoolBoard, runner),
  };
}
