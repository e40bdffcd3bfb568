/**
 * The wallet app with its chain gateway against an in-process EVM, for the gRPC tests of deposits and
 * withdrawals: real PostgreSQL, the embedded event log, a hot wallet in an encrypted keystore, and the
 * gateway's own poll timer set far out so that a test drives its steps itself.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deployTestExt, type LocalChain, startLocalChain } from "@excraft/chain/local-chain";
import { type EventLog, openEmbeddedEventLog } from "@excraft/eventlog";
import { createLogger } from "@excraft/platform";
import { WalletClient } from "@excraft/proto";
import { startPostgres, type TestPostgres } from "@excraft/testkit";
import { credentials } from "@grpc/grpc-js";
import type { Contract } from "ethers";
import { startWalletApp, type WalletApp } from "../src/app";
import { type ChainAssetConfig, LocalKeyStore } from "../src/chain";
import { ASSETS } from "./fixtures";

export interface ChainWallet {
  chain: LocalChain;
  app: WalletApp;
  client: WalletClient;
  /** EXT, when asked for (`withExt`). */
  ext: Contract | undefined;
  stop(): Promise<void>;
}

export async function startChainWallet(o: {
  database: string;
  confirmations: number;
  /** Also deploy EXT and watch it besides ETH. */
  withExt: boolean;
  /** Confirmed blocks before the head the first scan starts at (0 = from the head). */
  startBlocksBack?: number;
}): Promise<ChainWallet> {
  const pgServer: TestPostgres = await startPostgres();
  const url = await pgServer.createDatabase(o.database);
  const log: EventLog = await openEmbeddedEventLog();
  await log.createTopic("executions.v1", 1);
  const chain = await startLocalChain(4);
  const ext = o.withExt ? await deployTestExt(chain) : undefined;
  const dir = await mkdtemp(join(tmpdir(), `${o.database}-keystore-`));
  const assets: ChainAssetConfig[] = [{ symbol: "ETH", chainDecimals: 18 }];
  if (ext) assets.push({ symbol: "EXT", token: await ext.getAddress(), chainDecimals: 18 });
  const app = await startWalletApp({
    databaseUrl: url,
    eventLog: log,
    logger: createLogger({ name: "wallet-test", level: "silent" }),
    siwe: { domain: "excraft.test", uri: "https://excraft.test/link", chainId: 31337 },
    kycWebhookSecret: "kyc-webhook-test-secret",
    assets: ASSETS,
    publishLedger: false,
    chain: {
      provider: chain.provider,
      keyStore: await LocalKeyStore.openOrCreate(join(dir, "hot.json"), "correct horse battery"),
      assets,
      confirmations: o.confirmations,
      startBlock: (await chain.provider.getBlockNumber()) - (o.startBlocksBack ?? 0),
      pollMs: 3_600_000,
    },
  });
  const client = new WalletClient(app.grpc.address, credentials.createInsecure());
  // Let the gateway's first (automatic) poll finish before the test drives it.
  for (let i = 0; i < 100; i++) {
    const r = await app.pool.query("select 1 from chain_progress where name = 'deposits'");
    if (r.rows.length > 0) break;
    await new Promise((res) => setTimeout(res, 50));
  }
  return {
    chain,
    app,
    client,
    ext,
    async stop() {
      client.close();
      app.pool.on("error", () => {});
      await app.stop();
      await log.close();
      await pgServer.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
