/**
 * The demo accounts of one-process mode: a trader for the person trying the exchange, and the
 * market-making bot. Both are funded once through the wallet's operator credit (idempotent by
 * adjustment id, so a restart credits nothing twice) and get an API key.
 */
import type { ApiKeyStore } from "@excraft/order-gateway";
import type { Identity, Ledger } from "@excraft/wallet";
import type { Wallet } from "ethers";

export const DEMO_TRADER = "demo-trader";
export const BOT_ACCOUNT = "mm-bot";

/** Asset decimals of the demo ledger (minor units per whole unit = 10^decimals). */
export const DEMO_ASSETS = { BTC: 8, ETH: 8, EXT: 8, USDT: 6 } as const;

const FUNDING: Record<string, Record<keyof typeof DEMO_ASSETS, bigint>> = {
  [DEMO_TRADER]: { BTC: 2n, ETH: 20n, EXT: 100_000n, USDT: 100_000n },
  [BOT_ACCOUNT]: { BTC: 100n, ETH: 1_000n, EXT: 10_000_000n, USDT: 5_000_000n },
};

export interface DemoKey {
  apiKey: string;
  secret: string;
  /** True when this start created the key (so it is printed once for the user). */
  created: boolean;
}

export async function fundDemoAccounts(ledger: Ledger): Promise<void> {
  for (const [account, amounts] of Object.entries(FUNDING)) {
    for (const [asset, whole] of Object.entries(amounts)) {
      const minor = whole * 10n ** BigInt(DEMO_ASSETS[asset as keyof typeof DEMO_ASSETS]);
      await ledger.adjust(
        `demo-funding-${account}-${asset}`,
        account,
        asset,
        minor,
        "demo account funding",
        "standalone",
      );
    }
  }
}

/**
 * The account's demo key: the one given in the environment, else the one stored by an earlier
 * start, else a new one.
 */
export async function demoKey(
  keys: ApiKeyStore,
  accountId: string,
  fromEnv?: { apiKey?: string; secret?: string },
): Promise<DemoKey> {
  if (fromEnv?.apiKey || fromEnv?.secret) {
    if (!fromEnv.apiKey || !fromEnv.secret) {
      throw new Error("set both EXCRAFT_DEMO_API_KEY and EXCRAFT_DEMO_API_SECRET, or neither");
    }
    await keys.importKey({
      ...fromEnv,
      apiKey: fromEnv.apiKey,
      secret: fromEnv.secret,
      accountId,
      label: "demo",
      permissions: ["read", "trade"],
    });
    return { apiKey: fromEnv.apiKey, secret: fromEnv.secret, created: false };
  }
  for (const key of await keys.list(accountId)) {
    if (key.label !== "demo" || key.revokedAt !== null) continue;
    const stored = await keys.lookup(key.apiKey);
    if (stored) return { apiKey: stored.apiKey, secret: stored.secret, created: false };
  }
  const created = await keys.create({ accountId, label: "demo", permissions: ["read", "trade"] });
  return { apiKey: created.apiKey, secret: created.secret, created: true };
}

/**
 * Links `wallet`'s address to the account through the real Sign-In with Ethereum flow (challenge,
 * signature, verification), once: deposits from that address are then credited to the account.
 * Returns the account's linked address (an address linked earlier is kept).
 */
export async function linkDemoWallet(identity: Identity, accountId: string, wallet: Wallet): Promise<string> {
  const linked = await identity.linkedAddress(accountId);
  if (linked !== "") return linked;
  const { message } = await identity.createLinkChallenge(accountId, wallet.address);
  return identity.linkWallet(accountId, message, await wallet.signMessage(message));
}
