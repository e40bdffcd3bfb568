import { appendFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Wallet } from "ethers";
import { afterAll, describe, expect, it } from "vitest";
import { type Deployment, deployAll } from "../src/deploy.ts";
import { connectAll } from "../src/deployment.ts";
import { serveJsonRpc } from "../src/local-chain.ts";
import { type PersistentChain, startPersistentChain } from "../src/persistent-chain.ts";

const dirs: string[] = [];
const open: PersistentChain[] = [];
afterAll(async () => {
  for (const chain of open) await chain.close();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function journalFile(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "excraft-chain-"));
  dirs.push(dir);
  return join(dir, "chain", "journal.jsonl");
}

async function start(file: string): Promise<PersistentChain> {
  const chain = await startPersistentChain({ journalFile: file, accounts: 4 });
  open.push(chain);
  return chain;
}

type Block = { hash: string; number: string; timestamp: string; stateRoot: string };
const latest = (chain: PersistentChain) =>
  chain.eip1193.request({ method: "eth_getBlockByNumber", params: ["latest", false] }) as Promise<Block>;
const lines = async (file: string) => (await readFile(file, "utf8")).split("\n").filter(Boolean).length;

describe("persistent local chain", () => {
  it("replays its journal into the same chain: blocks, balances, storage, clock; new transactions continue", async () => {
    const file = await journalFile();
    const first = await start(file);
    const [deployer, alice] = first.wallets as [Wallet, Wallet];
    const deployment: Deployment = await deployAll(deployer);
    const ext = connectAll(deployment, deployer).ext;
    await (await ext.transfer(alice.address, 12_345n * 10n ** 18n)).wait();
    const eth = await deployer.sendTransaction({ to: alice.address, value: 7n * 10n ** 18n });
    await eth.wait();
    // Time travel in all its forms: offset, a chosen next timestamp, evm_mine(ts), hardhat_mine.
    await first.increaseTime(365 * 86_400);
    const chosen = Number((await latest(first)).timestamp) + 1_000;
    await first.eip1193.request({ method: "evm_setNextBlockTimestamp", params: [chosen] });
    await (await alice.sendTransaction({ to: deployer.address, value: 1n })).wait();
    expect(Number((await latest(first)).timestamp)).toBe(chosen);
    await first.eip1193.request({ method: "evm_mine", params: [chosen + 500] });
    await first.mine(3);
    await first.eip1193.request({
      method: "hardhat_setStorageAt",
      params: [deployment.contracts.Congress, "0x2a", `0x${"07".padStart(64, "0")}`],
    });
    await first.eip1193.request({ method: "evm_mine", params: [] });
    // Durable before acknowledged: every answered state change is already a journal line.
    const recordsBefore = await lines(file);
    await (await ext.transfer(alice.address, 1n)).wait();
    expect(await lines(file)).toBe(recordsBefore + 1);

    const head = await latest(first);
    const balances = {
      extAlice: await ext.balanceOf(alice.address),
      ethAlice: await first.provider.getBalance(alice.address),
      ethDeployer: await first.provider.getBalance(deployer.address),
    };
    const storage = await first.provider.getStorage(deployment.contracts.Congress, 0x2a);
    const code = await first.provider.getCode(deployment.contracts.EXT);
    const tx = await first.provider.getTransaction(eth.hash);
    const records = first.stats().records;
    await first.close();
    await expect(first.eip1193.request({ method: "eth_blockNumber" })).rejects.toThrow(/shut down/);

    const second = await start(file);
    expect(second.stats()).toMatchObject({ replayed: records, records });
    expect(await latest(second)).toEqual(head);
    const ext2 = connectAll(deployment, second.wallets[0]!).ext;
    expect(await ext2.balanceOf(alice.address)).toBe(balances.extAlice);
    expect(await second.provider.getBalance(alice.address)).toBe(balances.ethAlice);
    expect(await second.provider.getBalance(deployer.address)).toBe(balances.ethDeployer);
    expect(await second.provider.getStorage(deployment.contracts.Congress, 0x2a)).toBe(storage);
    expect(await second.provider.getCode(deployment.contracts.EXT)).toBe(code);
    expect((await second.provider.getTransaction(eth.hash))?.toJSON()).toEqual(tx?.toJSON());
    // The clock was kept: the next block is not earlier than the travelled-to time.
    const next = await second.wallets[1]!.sendTransaction({ to: deployer.address, value: 5n });
    const receipt = await next.wait();
    expect(receipt?.blockNumber).toBe(Number(head.number) + 1);
    expect(Number((await latest(second)).timestamp)).toBeGreaterThan(Number(head.timestamp));
    expect(await second.provider.getBalance(alice.address)).toBe(
      balances.ethAlice - 5n - receipt!.gasUsed * receipt!.gasPrice,
    );
    const head2 = await latest(second);
    await second.close();
    const third = await start(file);
    expect(await latest(third)).toEqual(head2);
    await third.close();
  }, 60_000);

  it("ignores a torn last record, rejects a damaged middle one and a replay that diverges", async () => {
    const file = await journalFile();
    const first = await start(file);
    const [a, b] = first.wallets as [Wallet, Wallet];
    for (let i = 0; i < 3; i++) await (await a.sendTransaction({ to: b.address, value: 1n })).wait();
    const head = await latest(first);
    await first.close();
    const intact = await readFile(file, "utf8");

    // A crash mid-append leaves a line without its newline: it was never acknowledged.
    await appendFile(file, '{"i":4,"m":"eth_sendRawTransaction","p":["0x02f8');
    const second = await start(file);
    expect(await latest(second)).toEqual(head);
    expect(await readFile(file, "utf8")).toBe(intact);
    await (await b.connect(second.provider).sendTransaction({ to: a.address, value: 2n })).wait();
    const head2 = await latest(second);
    await second.close();
    const third = await start(file);
    expect(await latest(third)).toEqual(head2);
    await third.close();

    const good = (await readFile(file, "utf8")).split("\n");
    const damaged = [...good];
    damaged[2] = damaged[2]!.slice(0, 20);
    await writeFile(file, damaged.join("\n"));
    await expect(startPersistentChain({ journalFile: file })).rejects.toThrow(
      /journal\.jsonl:3: corrupt chain journal record/,
    );
    const skipped = good.filter((_, k) => k !== 2);
    await writeFile(file, skipped.join("\n"));
    await expect(startPersistentChain({ journalFile: file })).rejects.toThrow(
      /journal\.jsonl:3: corrupt chain journal record \(expected record 2\)/,
    );
    // A record that parses but no longer produces the recorded block (another payment, same shape).
    const other = JSON.parse(good[2]!);
    other.p = [
      await a.signTransaction({
        to: b.address,
        value: 99n,
        nonce: 1,
        gasLimit: 21_000n,
        chainId: 31337n,
        maxFeePerGas: 2_000_000_000n,
        maxPriorityFeePerGas: 0n,
        type: 2,
      }),
    ];
    const diverged = [...good];
    diverged[2] = JSON.stringify(other);
    await writeFile(file, diverged.join("\n"));
    await expect(startPersistentChain({ journalFile: file })).rejects.toThrow(
      /journal\.jsonl:3: replay diverged at record 2 \(eth_sendRawTransaction\)/,
    );
  }, 60_000);

  it("refuses requests that would break replay, in-process and over HTTP", async () => {
    const file = await journalFile();
    const chain = await start(file);
    const before = await lines(file);
    for (const method of [
      "evm_snapshot",
      "evm_revert",
      "hardhat_reset",
      "hardhat_impersonateAccount",
      "evm_setAutomine",
    ]) {
      await expect(chain.eip1193.request({ method, params: ["0x1"] })).rejects.toMatchObject({
        code: -32004,
        message: expect.stringContaining(`${method} is not supported by the persistent local chain`),
      });
    }
    await expect(
      chain.eip1193.request({ method: "evm_increaseTime", params: ["soon"] }),
    ).rejects.toMatchObject({
      code: -32602,
    });
    // A rejected transaction (nonce too high) changes nothing and is not journaled.
    const signer = new Wallet(chain.wallets[0]!.privateKey);
    const tooHigh = await signer.signTransaction({
      to: signer.address,
      value: 1n,
      nonce: 9,
      gasLimit: 21_000n,
      chainId: 31337n,
      maxFeePerGas: 2_000_000_000n,
      maxPriorityFeePerGas: 0n,
      type: 2,
    });
    await expect(
      chain.eip1193.request({ method: "eth_sendRawTransaction", params: [tooHigh] }),
    ).rejects.toThrow();
    expect(await lines(file)).toBe(before);

    const server = await serveJsonRpc(chain);
    try {
      const post = async (body: string) =>
        (
          await fetch(server.url, { method: "POST", headers: { "content-type": "application/json" }, body })
        ).json();
      expect(await post(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId" }))).toEqual({
        jsonrpc: "2.0",
        id: 1,
        result: "0x7a69",
      });
      expect(await post(JSON.stringify({ jsonrpc: "2.0", id: 2, method: "evm_snapshot" }))).toMatchObject({
        id: 2,
        error: { code: -32004, message: expect.stringContaining("only replays forward") },
      });
      expect(await post("{not json")).toMatchObject({ error: { code: -32700 } });
      expect(await post(JSON.stringify({ jsonrpc: "2.0", id: 3, method: "evm_mine" }))).toMatchObject({
        id: 3,
      });
      expect(await lines(file)).toBe(before + 1);
    } finally {
      await server.close();
    }
  });

  it("mines empty blocks on a timer while transactions await confirmations, then idles", async () => {
    const chain = await start(await journalFile());
    await (await chain.wallets[0]!.sendTransaction({ to: chain.wallets[1]!.address, value: 1n })).wait();
    const active = chain.stats().lastActiveBlock;
    expect(active).toBe(1);
    const producer = chain.startBlockProducer({ intervalMs: 10, idleBlocks: 5 });
    const deadline = Date.now() + 10_000;
    while (chain.stats().headNumber < active + 5 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 200));
    await producer.stop();
    expect(chain.stats().headNumber).toBe(active + 5);
  });
});
