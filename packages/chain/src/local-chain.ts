/**
 * In-process EVM for tests, gas reports and local deploys (contracts and services share it): the Nomic Foundation EDR (the engine inside
 * Hardhat 3) driven directly through its JSON-RPC `handleRequest`, wrapped as an EIP-1193 provider so that
 * ethers v6 `BrowserProvider` can talk to it. Works offline; needs Node 22.
 */
import {
  ContractDecoder,
  EdrContext,
  GENERIC_CHAIN_TYPE,
  genericChainProviderFactory,
  MineOrdering,
  type Provider,
} from "@nomicfoundation/edr";
import {
  BrowserProvider,
  type Contract,
  ContractFactory,
  type Eip1193Provider,
  getBytes,
  HDNodeWallet,
  Wallet,
} from "ethers";
import { EXTAbi, EXTBytecode } from "./generated/EXT.ts";

/** Hardhat's well-known development mnemonic; test-only keys, never funded on a real chain. */
const DEV_MNEMONIC = "test test test test test test test test test test test junk";

let context: EdrContext | undefined;
let registered: Promise<void> | undefined;

function edrContext(): { ctx: EdrContext; ready: Promise<void> } {
  if (!context) {
    context = new EdrContext();
    registered = context.registerProviderFactory(GENERIC_CHAIN_TYPE, genericChainProviderFactory());
  }
  return { ctx: context, ready: registered! };
}

export interface LocalChain {
  provider: BrowserProvider;
  /** The raw EIP-1193 interface (what `serveJsonRpc` exposes over HTTP). */
  eip1193: Eip1193Provider;
  /** Funded dev wallets (private keys known), connected to `provider`. */
  wallets: Wallet[];
  /** Advance time by `seconds` and mine one block. */
  increaseTime(seconds: number): Promise<void>;
  /** Mine `n` empty blocks. */
  mine(n: number): Promise<void>;
  snapshot(): Promise<string>;
  revert(id: string): Promise<void>;
}

export interface LocalChainOptions {
  /** Genesis block timestamp, unix seconds (default: now). Fixing it makes the genesis hash reproducible. */
  genesisBlockTime?: bigint;
}

export async function startLocalChain(accounts = 20, opts: LocalChainOptions = {}): Promise<LocalChain> {
  const { ctx, ready } = edrContext();
  await ready;
  const keys: Wallet[] = [];
  for (let i = 0; i < accounts; i++) {
    keys.push(new Wallet(hdKey(i)));
  }
  const edr: Provider = await ctx.createProvider(
    GENERIC_CHAIN_TYPE,
    {
      allowBlocksWithSameTimestamp: false,
      allowUnlimitedContractSize: false,
      bailOnCallFailure: false,
      bailOnTransactionFailure: false,
      chainId: 31337n,
      coinbase: getBytes("0xc014ba5ec014ba5ec014ba5ec014ba5ec014ba5e"),
      defaultTransactionGasLimit: 30_000_000n,
      genesisState: keys.map((k) => ({ address: getBytes(k.address), balance: 10n ** 24n })),
      hardfork: "prague",
      initialBaseFeePerGas: 1_000_000_000n,
      minGasPrice: 0n,
      mining: { autoMine: true, blockGasLimit: 60_000_000n, memPool: { order: MineOrdering.Priority } },
      network: {
        genesisBlockGasLimit: 60_000_000n,
        ...(opts.genesisBlockTime === undefined ? {} : { genesisBlockTime: opts.genesisBlockTime }),
      },
      networkId: 31337n,
      observability: {},
      ownedAccounts: keys.map((k) => k.privateKey),
      precompileOverrides: [],
    },
    { enable: false, decodeConsoleLogInputsCallback: () => [], printLineCallback: () => {} },
    { subscriptionCallback: () => {} },
    new ContractDecoder(),
  );
  let id = 0;
  const eip1193: Eip1193Provider = {
    async request({ method, params }) {
      const res = await edr.handleRequest(
        JSON.stringify({ jsonrpc: "2.0", id: ++id, method, params: params ?? [] }),
      );
      const body = typeof res.data === "string" ? JSON.parse(res.data) : res.data;
      if (body.error) {
        const err = new Error(body.error.message) as Error & { code?: number; data?: unknown };
        err.code = body.error.code;
        // EDR nests the revert bytes ({ data: "0x…", reason }); ethers expects the hex string.
        const data = body.error.data;
        err.data = typeof data === "object" && data !== null && "data" in data ? data.data : data;
        throw err;
      }
      return body.result;
    },
  };
  const provider = new BrowserProvider(
    eip1193,
    { chainId: 31337, name: "edr" },
    { cacheTimeout: -1, pollingInterval: 10 },
  );
  const wallets = keys.map((k) => k.connect(provider));
  const rpc = (method: string, params: unknown[] = []) => eip1193.request({ method, params });
  return {
    provider,
    eip1193,
    wallets,
    async increaseTime(seconds) {
      await rpc("evm_increaseTime", [seconds]);
      await rpc("evm_mine");
    },
    async mine(n) {
      await rpc("hardhat_mine", [`0x${n.toString(16)}`]);
    },
    async snapshot() {
      return (await rpc("evm_snapshot")) as string;
    },
    async revert(snap) {
      await rpc("evm_revert", [snap]);
    },
  };
}

function hdKey(i: number): string {
  return HDNodeWallet.fromPhrase(DEV_MNEMONIC, undefined, `m/44'/60'/0'/0/${i}`).privateKey;
}

/** Serves the chain as a JSON-RPC HTTP endpoint (for the deploy script, services and their tests). */
/**
 * EXT alone on a local chain, for tests of deposits and withdrawals: deployed by wallets[0], its sale
 * allocation minted to wallets[1], every other allocation to wallets[0].
 */
export async function deployTestExt(chain: LocalChain): Promise<Contract> {
  const [deployer, holder] = chain.wallets;
  const factory = new ContractFactory(EXTAbi, EXTBytecode, deployer);
  const ext = (await factory.deploy(
    deployer!.address,
    holder!.address,
    deployer!.address,
    deployer!.address,
  )) as Contract;
  await ext.waitForDeployment();
  return ext;
}

export async function serveJsonRpc(
  chain: Pick<LocalChain, "eip1193">,
  port = 0,
): Promise<{ url: string; close(): Promise<void> }> {
  const { createServer } = await import("node:http");
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", async () => {
      const handle = async (msg: { id: unknown; method: string; params?: unknown[] }) => {
        try {
          return { jsonrpc: "2.0", id: msg.id, result: await chain.eip1193.request(msg) };
        } catch (e) {
          const err = e as { code?: number; message: string; data?: unknown };
          return {
            jsonrpc: "2.0",
            id: msg.id,
            error: { code: err.code ?? -32000, message: err.message, data: err.data },
          };
        }
      };
      let out: unknown;
      try {
        const parsed = JSON.parse(body);
        out = Array.isArray(parsed) ? await Promise.all(parsed.map(handle)) : await handle(parsed);
      } catch {
        // A malformed body gets the JSON-RPC parse error instead of an exception that ends the process.
        out = { jsonrpc: "2.0", id: null, error: { code: -32700, message: "Parse error" } };
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(out));
    });
  });
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
  const addr = server.address();
  const actual = typeof addr === "object" && addr ? addr.port : port;
  return {
    url: `http://127.0.0.1:${actual}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
