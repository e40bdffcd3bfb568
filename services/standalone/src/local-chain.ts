/**
 * The local EVM of one-process mode: a persistent EDR chain (journal in the data directory, so it
 * survives a restart like the rest), served as JSON-RPC on loopback, with the ExCraft contracts
 * deployed on the first start, a hot wallet for the wallet's chain gateway (key in an encrypted
 * keystore whose password is a local secret) and an empty block mined every few seconds while
 * transactions await confirmations.
 */
import { existsSync } from "node:fs";
import { mkdir, open, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type Deployment, deployAll, loadDeployment } from "@excraft/chain";
import { serveJsonRpc } from "@excraft/chain/local-chain";
import { type PersistentChain, startPersistentChain } from "@excraft/chain/persistent-chain";
import type { Logger } from "@excraft/platform";
import { LocalKeyStore } from "@excraft/wallet";
import { Contract, type Wallet } from "ethers";

/** What the first start funds, in wei (ETH and EXT both have 18 decimals on chain). */
const WEI = 10n ** 18n;
const HOT_WALLET_ETH = 100n * WEI;
const HOT_WALLET_EXT = 1_000_000n * WEI;
const DEPOSITOR_EXT = 100_000n * WEI;

/** The deployment file of one-process mode: the contract addresses plus the local wiring. */
export interface LocalDeployment extends Deployment {
  local: {
    hotWallet: string;
    /** Dev account the demo trader links and deposits from. */
    depositor: string;
    /** First block the wallet scans for deposits (after the funding transfers). */
    walletStartBlock: number;
  };
}

export interface StandaloneChain {
  chain: PersistentChain;
  rpcUrl: string;
  chainId: bigint;
  deployment: LocalDeployment;
  deploymentFile: string;
  keyStore: LocalKeyStore;
  /** Hardhat dev account #1: linked to the demo trader, holds ETH and EXT to deposit. */
  depositor: Wallet;
  /** True when this start created the chain and deployed the contracts. */
  created: boolean;
  close(): Promise<void>;
}

export async function startStandaloneChain(o: {
  dataDir: string;
  port: number;
  /** Seconds between empty blocks (0 = blocks only for transactions). */
  blockTimeSeconds: number;
  keystorePassword: string;
  logger: Logger;
}): Promise<StandaloneChain> {
  const dir = join(o.dataDir, "chain");
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const chain = await startPersistentChain({ journalFile: join(dir, "journal.jsonl"), logger: o.logger });
  try {
    const keyStore = await LocalKeyStore.openOrCreate(join(dir, "hot-wallet.json"), o.keystorePassword);
    const [deployer, depositor] = chain.wallets as [Wallet, Wallet];
    const deploymentFile = join(dir, "deployment.json");
    let deployment: LocalDeployment;
    const created = !existsSync(deploymentFile);
    if (created) {
      // (A crash before deployment.json is written deploys again at new addresses on the next start.)
      deployment = await deployAndFund(deployer, depositor, await keyStore.address(), o.logger);
      await writeDurably(deploymentFile, `${JSON.stringify(deployment, null, 2)}\n`);
    } else {
      deployment = loadDeployment(deploymentFile) as LocalDeployment;
      for (const [name, address] of Object.entries(deployment.contracts)) {
        if ((await chain.provider.getCode(address)) === "0x") {
          throw new Error(
            `${deploymentFile}: ${name} has no code at ${address} on the local chain (journal and deployment file disagree; remove ${dir} to start a new chain)`,
          );
        }
      }
      if (deployment.local.hotWallet !== (await keyStore.address())) {
        throw new Error(
          `${dir}/hot-wallet.json is not the hot wallet ${deployment.local.hotWallet} funded there`,
        );
      }
    }
    const rpc = await serveJsonRpc(chain, o.port);
    const producer =
      o.blockTimeSeconds > 0
        ? chain.startBlockProducer({
            intervalMs: o.blockTimeSeconds * 1000,
            onError: (error) => o.logger.error({ err: error }, "local chain: mining a block failed"),
          })
        : undefined;
    return {
      chain,
      rpcUrl: rpc.url,
      chainId: chain.chainId,
      deployment,
      deploymentFile,
      keyStore,
      depositor,
      created,
      async close() {
        await producer?.stop();
        await rpc.close();
        await chain.close();
      },
    };
  } catch (error) {
    await chain.close();
    throw error;
  }
}

async function deployAndFund(
  deployer: Wallet,
  depositor: Wallet,
  hotWallet: string,
  logger: Logger,
): Promise<LocalDeployment> {
  logger.info("local chain: deploying the ExCraft contracts");
  const deployment = await deployAll(deployer);
  // The deployer is the sale treasury: it holds the sale EXT and pays the initial balances.
  const ext = new Contract(
    deployment.contracts.EXT,
    ["function transfer(address to, uint256 value) returns (bool)"],
    deployer,
  );
  await (await deployer.sendTransaction({ to: hotWallet, value: HOT_WALLET_ETH })).wait();
  await (await ext.getFunction("transfer")(hotWallet, HOT_WALLET_EXT)).wait();
  const last = await (await ext.getFunction("transfer")(depositor.address, DEPOSITOR_EXT)).wait();
  return {
    ...deployment,
    local: { hotWallet, depositor: depositor.address, walletStartBlock: last!.blockNumber + 1 },
  };
}

/** Write-then-rename with fsync, so a crash leaves either no file or the whole file. */
async function writeDurably(file: string, text: string): Promise<void> {
  const tmp = `${file}.tmp`;
  await writeFile(tmp, text, { mode: 0o600 });
  const fh = await open(tmp, "r+");
  await fh.sync().finally(() => fh.close());
  await rename(tmp, file);
}
