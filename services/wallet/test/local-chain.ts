/**
 * An in-process EVM for the wallet's chain tests: Nomic Foundation EDR (the engine inside Hardhat 3)
 * through its JSON-RPC `handleRequest`, wrapped as an EIP-1193 provider for ethers v6. Offline, Node 22.
 */
import {
  ContractDecoder,
  EdrContext,
  GENERIC_CHAIN_TYPE,
  genericChainProviderFactory,
  MineOrdering,
} from "@nomicfoundation/edr";
import { BrowserProvider, type Eip1193Provider, getBytes, HDNodeWallet, Wallet } from "ethers";

const DEV_MNEMONIC = "test test test test test test test test test test test junk";
let context: EdrContext | undefined;
let registered: Promise<void> | undefined;

export interface LocalChain {
  provider: BrowserProvider;
  wallets: Wallet[];
  mine(n: number): Promise<void>;
}

export async function startLocalChain(accounts = 5): Promise<LocalChain> {
  if (!context) {
    context = new EdrContext();
    registered = context.registerProviderFactory(GENERIC_CHAIN_TYPE, genericChainProviderFactory());
  }
  await registered;
  const keys = Array.from(
    { length: accounts },
    (_, i) => new Wallet(HDNodeWallet.fromPhrase(DEV_MNEMONIC, undefined, `m/44'/60'/0'/0/${i}`).privateKey),
  );
  const edr = await context.createProvider(
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
      network: { genesisBlockGasLimit: 60_000_000n },
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
        err.data = body.error.data;
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
  return {
    provider,
    wallets: keys.map((k) => k.connect(provider)),
    async mine(n) {
      await eip1193.request({ method: "hardhat_mine", params: [`0x${n.toString(16)}`] });
    },
  };
}
