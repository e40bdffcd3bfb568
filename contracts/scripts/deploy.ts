/**
 * `npm run deploy -- [--rpc URL] [--out FILE] [--period-blocks N]`
 *
 * Deploys the whole ExCraft contract set to any JSON-RPC endpoint and writes the addresses to a JSON file
 * that services read with `loadDeployment()` from @excraft/chain. The deployer key comes from
 * DEPLOYER_PRIVATE_KEY; role holders default to the deployer and can be set with EXCRAFT_<ROLE> env vars
 * (ADMIN, RECORDER, BURNER, REWARD_PROPOSER, GUARDIAN, MEMBERSHIP, REGISTRAR, SALE_TREASURY,
 * TEAM_BENEFICIARY, ECOSYSTEM_BENEFICIARY). Without --rpc it starts an in-process EDR chain, serves it on
 * --port (default 8545) and keeps running, which gives services a local chain to talk to.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { type DeployOptions, deployAll } from "@excraft/chain";
import { serveJsonRpc, startLocalChain } from "@excraft/chain/local-chain";
import { JsonRpcProvider, Wallet } from "ethers";
import { CONTRACTS_DIR } from "./lib/build.ts";
import { compiledArtifacts } from "./lib/fixture.ts";

const { values } = parseArgs({
  options: {
    rpc: { type: "string" },
    out: { type: "string" },
    port: { type: "string", default: "8545" },
    "period-blocks": { type: "string" },
  },
});

const env = (k: string) => process.env[`EXCRAFT_${k}`] || undefined;

let url = values.rpc;
let key = process.env.DEPLOYER_PRIVATE_KEY;
let local: Awaited<ReturnType<typeof serveJsonRpc>> | undefined;
if (!url) {
  const chain = await startLocalChain(10);
  local = await serveJsonRpc(chain, Number(values.port));
  url = local.url;
  key ??= chain.wallets[0]!.privateKey;
  console.log(`in-process EDR chain serving JSON-RPC at ${url} (dev accounts of the test mnemonic)`);
}
if (!key) throw new Error("set DEPLOYER_PRIVATE_KEY");
const provider = new JsonRpcProvider(url, undefined, { staticNetwork: true, pollingInterval: 200 });
const signer = new Wallet(key, provider);
const opts: DeployOptions = {
  admin: env("ADMIN"),
  recorder: env("RECORDER"),
  burner: env("BURNER"),
  rewardProposer: env("REWARD_PROPOSER"),
  guardian: env("GUARDIAN"),
  membership: env("MEMBERSHIP"),
  registrar: env("REGISTRAR"),
  saleTreasury: env("SALE_TREASURY"),
  teamBeneficiary: env("TEAM_BENEFICIARY"),
  ecosystemBeneficiary: env("ECOSYSTEM_BENEFICIARY"),
  artifacts: compiledArtifacts(),
  log: (s) => console.log(`  ${s}`),
};
if (values["period-blocks"]) opts.periodBlocks = BigInt(values["period-blocks"]);
console.log(`deploying from ${signer.address} to ${url} …`);
const deployment = await deployAll(signer, opts);
const out = values.out ?? join(CONTRACTS_DIR, "deployments", `${deployment.chainId}.json`);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify(deployment, null, 2)}\n`);
console.log(`deployed 13 contracts (${deployment.gasUsed} gas); addresses written to ${out}`);
provider.destroy();
if (local) console.log("chain keeps running; Ctrl-C to stop");
