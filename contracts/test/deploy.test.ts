import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { connectAll, loadDeployment } from "@excraft/chain";
import { serveJsonRpc, startLocalChain } from "@excraft/chain/local-chain";
import { JsonRpcProvider } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONTRACTS_DIR } from "../scripts/lib/build.ts";

const run = promisify(execFile);

describe("deploy script", () => {
  let server: Awaited<ReturnType<typeof serveJsonRpc>>;
  let key: string;
  const dir = mkdtempSync(join(tmpdir(), "excraft-deploy-"));
  beforeAll(async () => {
    const chain = await startLocalChain(2);
    key = chain.wallets[1]!.privateKey;
    server = await serveJsonRpc(chain);
  });
  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("deploys the whole set to a JSON-RPC URL and writes the addresses services read", async () => {
    const out = join(dir, "deployment.json");
    const { stdout } = await run(
      process.execPath,
      ["--import", "tsx", "scripts/deploy.ts", "--rpc", server.url, "--out", out],
      { cwd: CONTRACTS_DIR, env: { ...process.env, DEPLOYER_PRIVATE_KEY: key } },
    );
    expect(stdout).toContain("addresses written");
    const d = loadDeployment(out);
    expect(d.chainId).toBe(31337);
    expect(d.periodBlocks).toBe("7200");
    const provider = new JsonRpcProvider(server.url, undefined, { staticNetwork: true });
    const c = connectAll(d, provider);
    expect(await c.ext.totalSupply()).toBe(10_000_000_000n * 10n ** 18n);
    expect(await c.emission.token()).toBe(d.contracts.EXT);
    expect(await c.senate.anchor()).toBe(d.contracts.PoEAnchor);
    expect(await c.anchor.hasRole(await c.anchor.RECORDER_ROLE(), d.deployer)).toBe(true);
    provider.destroy();
  });
});
