import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deployTestExt, type LocalChain, startLocalChain } from "@excraft/chain/local-chain";
import { type Contract, computeAddress, hexlify, parseEther, randomBytes, SigningKey } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChainGateway, type KmsClient, KmsKeyStore, LocalKeyStore } from "../src/chain";
import { WalletError } from "../src/errors";
import { Identity } from "../src/identity";
import { type Harness, startHarness, stopHarness } from "./fixtures";

let h: Harness;
let chain: LocalChain;
let dir: string;
let ext: Contract;
let gw: ChainGateway;
const CONFIRMATIONS = 3;

beforeAll(async () => {
  h = await startHarness("wallet_chain");
  await ChainGateway.migrate(h.pool);
  chain = await startLocalChain(4);
  dir = await mkdtemp(join(tmpdir(), "wallet-keystore-"));
  ext = await deployTestExt(chain);
});
afterAll(async () => {
  await stopHarness(h);
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function bal(account: string, asset: string) {
  const b = (await h.ledger.balances(account)).find((x) => x.asset === asset);
  return { free: b?.free ?? 0n, locked: b?.locked ?? 0n };
}

describe("on-chain deposits and withdrawals", () => {
  it("keeps the hot key in an encrypted keystore file", async () => {
    const file = join(dir, "hot.json");
    const a = await LocalKeyStore.openOrCreate(file, "correct horse battery");
    const again = await LocalKeyStore.openOrCreate(file, "correct horse battery");
    expect(await again.address()).toBe(await a.address());
    await expect(LocalKeyStore.openOrCreate(file, "wrong password!")).rejects.toThrow(/password/i);
  });

  it("credits confirmed deposits from linked addresses once; pays withdrawals with managed nonces", async () => {
    const [deployer, alice, bob] = chain.wallets as [
      (typeof chain.wallets)[0],
      (typeof chain.wallets)[0],
      (typeof chain.wallets)[0],
    ];
    const keyStore = await LocalKeyStore.openOrCreate(join(dir, "hot.json"), "correct horse battery");
    gw = new ChainGateway({
      pool: h.pool,
      ledger: h.ledger,
      provider: chain.provider,
      keyStore,
      assets: [
        { symbol: "ETH", chainDecimals: 18 },
        { symbol: "EXT", token: await ext.getAddress(), chainDecimals: 18 },
      ],
      confirmations: CONFIRMATIONS,
      startBlock: await chain.provider.getBlockNumber(),
    });
    const hot = await gw.hotAddress();
    await (await deployer.sendTransaction({ to: hot, value: parseEther("1") })).wait(); // gas money (unattributed)

    // alice links her address (SIWE) → her deposits are attributable
    const identity = new Identity(h.pool, {
      domain: "excraft.test",
      uri: "https://excraft.test",
      chainId: 31337,
    });
    const ch = await identity.createLinkChallenge("alice", alice.address);
    await identity.linkWallet("alice", ch.message, await alice.signMessage(ch.message));

    await (await alice.sendTransaction({ to: hot, value: parseEther("1.5") })).wait();
    await (await (ext.connect(alice) as Contract).getFunction("transfer")(hot, parseEther("250"))).wait();
    await (await bob.sendTransaction({ to: hot, value: parseEther("0.1") })).wait(); // bob is not linked

    // Each transaction mined its own block: the ETH deposit (head − 2) has 3 confirmations, the EXT
    // transfer (head − 1) only 2 — it must wait.
    expect(await gw.pollDeposits()).toBe(1);
    expect(await bal("alice", "ETH")).toEqual({ free: 150_000_000n, locked: 0n });
    expect(await bal("alice", "EXT")).toEqual({ free: 0n, locked: 0n });
    await chain.mine(CONFIRMATIONS);
    expect(await gw.pollDeposits()).toBe(1);
    expect(await bal("alice", "ETH")).toEqual({ free: 150_000_000n, locked: 0n }); // 1.5 ETH at 8 decimals
    expect(await bal("alice", "EXT")).toEqual({ free: 25_000_000_000n, locked: 0n });
    const unattributed = await h.pool.query(
      "select from_address, amount_wei from unattributed_deposits order by block",
    );
    expect(unattributed.rows.map((r) => r.from_address)).toEqual([deployer.address, bob.address]);
    // Scanning again (or after a crash, from an older position) credits nothing twice.
    await h.pool.query("update chain_progress set block = 0");
    await chain.mine(1);
    await gw.pollDeposits();
    expect(await bal("alice", "ETH")).toEqual({ free: 150_000_000n, locked: 0n });

    // Withdrawals: held at once, paid on confirmation, idempotent by id.
    const ethBefore = await chain.provider.getBalance(alice.address);
    const extBefore = (await ext.getFunction("balanceOf")(alice.address)) as bigint;
    await gw.requestWithdrawal("w1", "alice", "ETH", 50_000_000n);
    await gw.requestWithdrawal("w2", "alice", "EXT", 10_000_000_000n);
    await gw.requestWithdrawal("w1", "alice", "ETH", 50_000_000n); // replay
    expect(await bal("alice", "ETH")).toEqual({ free: 100_000_000n, locked: 50_000_000n });
    const refused = await gw.requestWithdrawal("w3", "alice", "ETH", 10n ** 12n).catch((e: unknown) => e);
    expect((refused as WalletError).code).toBe("INSUFFICIENT_BALANCE");
    expect(await gw.withdrawal("w3")).toBeUndefined();

    expect(await gw.sendPending()).toBe(2);
    expect(await gw.sendPending()).toBe(0);
    const w1 = (await gw.withdrawal("w1"))!;
    const w2 = (await gw.withdrawal("w2"))!;
    expect(w1.status).toBe("sent");
    expect(w2.nonce).toBe(w1.nonce! + 1n);
    expect(await gw.confirmSent()).toEqual({ confirmed: 0, failed: 0 }); // not deep enough yet
    await chain.mine(CONFIRMATIONS);
    expect(await gw.confirmSent()).toEqual({ confirmed: 2, failed: 0 });
    expect(await bal("alice", "ETH")).toEqual({ free: 100_000_000n, locked: 0n });
    expect(await bal("alice", "EXT")).toEqual({ free: 15_000_000_000n, locked: 0n });
    expect((await chain.provider.getBalance(alice.address)) - ethBefore).toBe(parseEther("0.5"));
    expect(((await ext.getFunction("balanceOf")(alice.address)) as bigint) - extBefore).toBe(
      parseEther("100"),
    );

    const audit = await h.ledger.audit();
    expect(audit.ok).toBe(true);
    expect(audit.assets.find((a) => a.asset === "ETH")?.expected).toBe(100_000_000n);
    expect(audit.assets.find((a) => a.asset === "EXT")?.expected).toBe(15_000_000_000n);
  });

  it("signs and sends through the KMS adapter (KmsSigner over any digest-signing backend)", async () => {
    // A secp256k1 key behind the KmsClient interface, as a KMS/HSM would hold it.
    const key = new SigningKey(hexlify(randomBytes(32)));
    const kms: KmsClient = {
      address: async () => computeAddress(key.publicKey),
      signDigest: async (digest) => key.sign(digest),
    };
    const store = new KmsKeyStore(kms);
    const address = await store.address();
    await (await chain.wallets[0]!.sendTransaction({ to: address, value: parseEther("1") })).wait();
    const signer = await store.signer(chain.provider);
    const receiver = chain.wallets[3]!.address;
    const before = await chain.provider.getBalance(receiver);
    const tx = await signer.sendTransaction({ to: receiver, value: parseEther("0.25") });
    const receipt = await tx.wait();
    expect(receipt?.status).toBe(1);
    expect(receipt?.from).toBe(address);
    expect((await chain.provider.getBalance(receiver)) - before).toBe(parseEther("0.25"));
  });

  it("refuses unknown assets and bad destinations without holding anything", async () => {
    await expect(gw.requestWithdrawal("w9", "alice", "BTC", 1n)).rejects.toBeInstanceOf(WalletError);
    await expect(gw.requestWithdrawal("w9", "alice", "ETH", 1n, "0x1234")).rejects.toThrow(/destination/);
    expect(await bal("alice", "ETH")).toEqual({ free: 100_000_000n, locked: 0n });
  });
});
