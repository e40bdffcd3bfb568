/**
 * A fresh local chain with the full contract set deployed from the compiled artifacts; shared by the
 * tests and the gas report.
 */
import {
  type ArtifactSet,
  connectAll,
  type Deployment,
  type DeployOptions,
  deployAll,
  type ExcraftContracts,
} from "@excraft/chain";
import { type LocalChain, startLocalChain } from "@excraft/chain/local-chain";
import type { InterfaceAbi, Wallet } from "ethers";
import { CONTRACT_NAMES, ensureArtifacts } from "./build.ts";

export interface Fixture extends LocalChain {
  deployment: Deployment;
  /** Contracts connected to the deployer (wallets[0]). */
  c: ExcraftContracts;
  deployer: Wallet;
  artifacts: ArtifactSet;
  as(wallet: Wallet): ExcraftContracts;
}

export function compiledArtifacts(): ArtifactSet {
  const a = ensureArtifacts(() => {});
  const out = {} as ArtifactSet;
  for (const n of CONTRACT_NAMES) out[n] = { abi: a[n].abi as InterfaceAbi, bytecode: a[n].bytecode };
  return out;
}

export async function deployFixture(
  opts: Omit<DeployOptions, "artifacts"> = {},
  accounts = 20,
): Promise<Fixture> {
  const chain = await startLocalChain(accounts);
  const artifacts = compiledArtifacts();
  const deployer = chain.wallets[0]!;
  const deployment = await deployAll(deployer, { periodBlocks: 10n, ...opts, artifacts });
  return {
    ...chain,
    deployment,
    deployer,
    artifacts,
    c: connectAll(deployment, deployer),
    as: (w: Wallet) => connectAll(deployment, w),
  };
}
