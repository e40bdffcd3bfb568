import { readFile, writeFile } from "node:fs/promises";
import type { Logger } from "@excraft/platform";
import {
  AbstractSigner,
  Contract,
  getAddress,
  Interface,
  isAddress,
  type Provider,
  Signature,
  type Signer,
  Transaction,
  type TransactionLike,
  type TransactionRequest,
  Wallet,
  zeroPadValue,
} from "ethers";
import type pg from "pg";
import { invalid, WalletError } from "./errors";
import { withdrawalOf } from "./history";
import { checkAccount, checkAmount, checkId, type Ledger } from "./ledger";

// ------------------------------------------------------------------ KeyStore port

/** Where the hot wallet's signing key lives. Business code sees only a Signer. */
export interface KeyStore {
  address(): Promise<string>;
  signer(provider: Provider): Promise<Signer>;
}

/**
 * Development key store: an encrypted JSON keystore file (scrypt + AES-128-CTR, the geth/Web3 Secret
 * Storage format ethers reads and writes). The password comes from the environment, never from the file.
 */
export class LocalKeyStore implements KeyStore {
  private constructor(private readonly wallet: Wallet) {}

  /** Opens the keystore file, creating it with a fresh random key when it does not exist. */
  static async openOrCreate(file: string, password: string): Promise<LocalKeyStore> {
    if (password.length < 8) throw invalid("password", "keystore password must be at least 8 characters");
    let json: string | undefined;
    try {
      json = await readFile(file, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
    if (json === undefined) {
      const fresh = Wallet.createRandom();
      json = await fresh.encrypt(password);
      await writeFile(file, json, { mode: 0o600, flag: "wx" });
    }
    const w = await Wallet.fromEncryptedJson(json, password);
    return new LocalKeyStore(new Wallet(w.privateKey));
  }

  async address(): Promise<string> {
    return this.wallet.address;
  }

  async signer(provider: Provider): Promise<Signer> {
    return this.wallet.connect(provider);
  }
}

/**
 * Production adapter point: a KMS/HSM that holds a secp256k1 key and signs 32-byte digests (AWS KMS
 * `ECC_SECG_P256K1`, GCP KMS, Vault transit, …). Implement `KmsClient` for the provider; the signer
 * below turns its digest signatures into Ethereum transactions and messages.
 */
export interface KmsClient {
  /** The key's Ethereum address. */
  address(): Promise<string>;
  /** Signs a 32-byte digest; returns r, s (low-s) and the recovery bit, or a 65-byte signature. */
  signDigest(digest: string): Promise<Signature | string>;
}

export class KmsSigner extends AbstractSigner {
  constructor(
    private readonly kms: KmsClient,
    provider: Provider | null = null,
  ) {
    super(provider);
  }
  override connect(provider: Provider | null): KmsSigner {
    return new KmsSigner(this.kms, provider);
  }
  override getAddress(): Promise<string> {
    return this.kms.address();
  }
  override async signTransaction(tx: TransactionRequest): Promise<string> {
    const populated = await this.populateTransaction(tx);
    const unsigned = Transaction.from({ ...(populated as TransactionLike<string>), from: undefined });
    unsigned.signature = Signature.from(await this.kms.signDigest(unsigned.unsignedHash));
    if (getAddress(unsigned.from!) !== getAddress(await this.getAddress())) {
      throw new Error("KMS signature does not recover to the key's address");
    }
    return unsigned.serialized;
  }
  override async signMessage(): Promise<string> {
    throw new Error("KmsSigner signs transactions only");
  }
  override async signTypedData(): Promise<string> {
    throw new Error("KmsSigner signs transactions only");
  }
}

export class KmsKeyStore implements KeyStore {
  constructor(private readonly kms: KmsClient) {}
  address(): Promise<string> {
    return this.kms.address();
  }
  async signer(provider: Provider): Promise<Signer> {
    return new KmsSigner(this.kms, provider);
  }
}

// ------------------------------------------------------------------ chain gateway

/** An on-chain asset: native ETH (no token) or an ERC-20. */
export interface ChainAssetConfig {
  /** Ledger asset symbol ("ETH", "EXT"); its ledger decimals come from the asset registry. */
  symbol: string;
  /** ERC-20 address; undefined for the native coin. */
  token?: string;
  /** Decimals on chain (18 for ETH and EXT). */
  chainDecimals: number;
}

export interface ChainGatewayOptions {
  pool: pg.Pool;
  ledger: Ledger;
  provider: Provider;
  keyStore: KeyStore;
  assets: ChainAssetConfig[];
  /** A deposit counts once its block has this many confirmations (1 = mined). */
  confirmations: number;
  /** First block to scan when nothing was scanned yet (default: the current safe head). */
  startBlock?: number;
  /** Most blocks scanned per poll (default 500). */
  maxBlocksPerPoll?: number;
  /** Logs deposits dropped before they were credited (warn). */
  logger?: Logger;
}

export const CHAIN_SCHEMA_SQL = `
create table if not exists chain_progress (
  name text primary key,
  block bigint not null
);
create table if not exists unattributed_deposits (
  reference text primary key,
  asset text not null,
  from_address text not null,
  amount_wei numeric(78,0) not null check (amount_wei > 0),
  block bigint not null,
  recorded_at timestamptz not null default now()
);
create table if not exists withdrawals (
  withdrawal_id text primary key,
  account_id text not null,
  asset text not null,
  amount bigint not null check (amount > 0),
  to_address text not null,
  status text not null check (status in ('pending','sent','confirmed','failed')),
  nonce bigint unique,
  tx_hash text,
  raw_tx text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index if not exists withdrawals_account on withdrawals (account_id, created_at);
-- Chain deposits attributed to an account, from the moment they are first seen (ListDeposits): pending until
-- their block has the required confirmations, then credited (the ledger's deposit entry has the same
-- reference), or dropped when they left the canonical chain before that. Never part of any balance.
create table if not exists chain_deposits (
  reference text primary key, -- the ledger's deposit reference: chain:<tx>:<log index or "eth">
  account_id text not null,
  asset text not null,
  amount bigint not null check (amount > 0), -- ledger minor units
  tx_hash text not null,
  block_number bigint not null, -- block it was last seen in
  confirmations integer not null check (confirmations >= 0), -- at the last scan (frozen once credited)
  required_confirmations integer not null check (required_confirmations >= 1),
  status text not null check (status in ('pending','credited','dropped')),
  seen_ms bigint not null, -- first seen; the deposit's place in the account's list, never changed
  updated_at timestamptz not null default now()
);
create index if not exists chain_deposits_account on chain_deposits (account_id, seen_ms);
create index if not exists chain_deposits_pending on chain_deposits (reference) where status = 'pending';
`;

const ERC20 = new Interface([
  "event Transfer(address indexed from, address indexed to, uint256 value)",
  "function transfer(address to, uint256 value) returns (bool)",
]);
const TRANSFER_TOPIC = ERC20.getEvent("Transfer")!.topicHash;

/** A successful ETH or token transfer to the hot address, found by a block scan. */
interface TransferToHot {
  /** The ledger's deposit reference: chain:<tx>:<log index or "eth">. */
  ref: string;
  txHash: string;
  asset: ChainAssetConfig;
  from: string;
  wei: bigint;
  block: number;
}

export interface WithdrawalRow {
  withdrawalId: string;
  accountId: string;
  asset: string;
  amount: bigint;
  toAddress: string;
  status: "pending" | "sent" | "confirmed" | "failed";
  nonce: bigint | null;
  txHash: string | null;
  createdTimeMs: number;
  updatedTimeMs: number;
}

/**
 * Deposits and withdrawals of ETH and ERC-20 tokens (EXT) through ethers against any JSON-RPC node.
 *
 * Deposits: users send from their linked address to the exchange's hot address; a transfer is
 * credited once its block has `confirmations` confirmations, idempotently by "chain:<tx>:<log|eth>".
 * Before that it is recorded as pending in `chain_deposits` (shown to the user, never in a balance).
 * Transfers from unlinked addresses are recorded in `unattributed_deposits` for an operator.
 * Withdrawals: the amount is held first (order id "wd:<id>"), then a transaction with a nonce managed
 * in PostgreSQL is signed and stored BEFORE it is broadcast (a crash rebroadcasts the same bytes, it
 * never signs a second payment); once confirmed the hold is paid out (a withdrawal entry), a reverted
 * transaction releases it.
 */
export class ChainGateway {
  private readonly assets = new Map<string, ChainAssetConfig>();
  private readonly byToken = new Map<string, ChainAssetConfig>();
  private hot: string | undefined;
  private signerP: Promise<Signer> | undefined;
  /** For metrics: pending chain deposits after the last complete scan; deposits dropped since start. */
  readonly stats = { pendingDeposits: 0, droppedDeposits: 0 };

  constructor(private readonly o: ChainGatewayOptions) {
    if (!Number.isInteger(o.confirmations) || o.confirmations < 1)
      throw new Error("confirmations must be ≥ 1");
    for (const a of o.assets) {
      this.assets.set(a.symbol, a);
      if (a.token) this.byToken.set(getAddress(a.token), a);
    }
  }

  static async migrate(pool: pg.Pool): Promise<void> {
    await pool.query(CHAIN_SCHEMA_SQL);
  }

  /**
   * Releases withdrawal holds ("wd:<id>") that have no withdrawal row: the process stopped between
   * the hold and the row, so the request was never acknowledged and nothing will ever send it. Run
   * before the gRPC server takes requests (a request in flight is between those two steps too).
   * Returns the withdrawal ids released.
   */
  static async releaseOrphanedWithdrawalHolds(pool: pg.Pool, ledger: Ledger): Promise<string[]> {
    const r = await pool.query<{ order_id: string; account_id: string }>(
      `select h.order_id, h.account_id from holds h
        where h.order_id like 'wd:%' and h.remaining > 0
          and not exists (select 1 from withdrawals w where 'wd:' || w.withdrawal_id = h.order_id)`,
    );
    for (const h of r.rows) await ledger.release(h.account_id, h.order_id, 0n);
    return r.rows.map((h) => h.order_id.slice(3));
  }

  async hotAddress(): Promise<string> {
    this.hot ??= getAddress(await this.o.keyStore.address());
    return this.hot;
  }

  private signer(): Promise<Signer> {
    this.signerP ??= this.o.keyStore.signer(this.o.provider);
    return this.signerP;
  }

  private factor(a: ChainAssetConfig): bigint {
    const decimals = this.o.ledger.asset(a.symbol).decimals;
    if (a.chainDecimals < decimals) throw new Error(`${a.symbol}: ledger decimals exceed chain decimals`);
    return 10n ** BigInt(a.chainDecimals - decimals);
  }

  // ---------------------------------------------------------------- deposits

  /**
   * Scans confirmed blocks after the last scanned one and credits what they hold; returns the number of
   * credited deposits. Once caught up with the confirmed chain it also rescans the unconfirmed blocks above
   * it (at most `confirmations − 1`), records what they hold for linked addresses as pending, and marks
   * dropped every pending deposit found in neither scan: its transfer is no longer in the canonical chain
   * (a reorg), or no longer attributable, so it will not be credited. A dropped transfer that is mined
   * again is pending again (same reference) or a new deposit (a new log index).
   */
  async pollDeposits(): Promise<number> {
    const { pool, provider } = this.o;
    const hot = await this.hotAddress();
    const head = await provider.getBlockNumber();
    const safe = head - (this.o.confirmations - 1);
    const row = await pool.query("select block from chain_progress where name = 'deposits'");
    const from = row.rows[0] ? Number(row.rows[0].block) + 1 : (this.o.startBlock ?? safe);
    const to = Math.min(safe, from + (this.o.maxBlocksPerPoll ?? 500) - 1);
    let credited = 0;
    if (to >= from) {
      for (const d of await this.transfersToHot(from, to, hot)) {
        const account = await this.linkedAccount(d.from);
        const amount = d.wei / this.factor(d.asset);
        if (account && amount > 0n) {
          // Recorded first, so a deposit seen pending keeps its place in the list once credited.
          await this.recordDeposit(d, account, amount, head);
          await this.o.ledger.deposit(d.ref, account, d.asset.symbol, amount);
          await pool.query(
            "update chain_deposits set status = 'credited', updated_at = now() where reference = $1",
            [d.ref],
          );
          credited++;
        } else {
          await pool.query(
            `insert into unattributed_deposits (reference, asset, from_address, amount_wei, block)
             values ($1, $2, $3, $4, $5) on conflict (reference) do nothing`,
            [d.ref, d.asset.symbol, getAddress(d.from), d.wei.toString(), d.block],
          );
        }
      }
      await pool.query(
        `insert into chain_progress (name, block) values ('deposits', $1)
         on conflict (name) do update set block = excluded.block`,
        [to],
      );
    }
    // Still catching up (more confirmed blocks than one poll scans): pending ones wait for a later poll.
    if (to === safe || from > safe) await this.trackUnconfirmed(Math.max(from, safe + 1), head, hot);
    return credited;
  }

  /** Records the unconfirmed blocks' deposits as pending; drops pending ones no longer seen (see pollDeposits). */
  private async trackUnconfirmed(from: number, head: number, hot: string): Promise<void> {
    const seen: string[] = [];
    if (from <= head) {
      for (const d of await this.transfersToHot(from, head, hot)) {
        const account = await this.linkedAccount(d.from);
        const amount = d.wei / this.factor(d.asset);
        // Unattributed transfers are recorded once confirmed; dust below one ledger unit is never credited.
        if (!account || amount === 0n) continue;
        await this.recordDeposit(d, account, amount, head);
        seen.push(d.ref);
      }
    }
    const dropped = await this.o.pool.query(
      `update chain_deposits set status = 'dropped', updated_at = now()
        where status = 'pending' and not (reference = any($1::text[]))
        returning reference, account_id, asset, amount, block_number`,
      [seen],
    );
    if (dropped.rows.length > 0) {
      this.stats.droppedDeposits += dropped.rows.length;
      this.o.logger?.warn(
        { deposits: dropped.rows.map((x) => ({ ...x, amount: String(x.amount) })) },
        "pending deposits left the canonical chain before their confirmations; not credited",
      );
    }
    const pending = await this.o.pool.query(
      "select count(*)::int as n from chain_deposits where status = 'pending'",
    );
    this.stats.pendingDeposits = pending.rows[0].n;
  }

  /**
   * Inserts or refreshes a chain deposit as pending (block, confirmations), keeping when it was first seen;
   * a credited one is left alone. A deposit credited before this table existed gets no row (its place in
   * the list stays its credit time).
   */
  private async recordDeposit(
    d: TransferToHot,
    accountId: string,
    amount: bigint,
    head: number,
  ): Promise<void> {
    await this.o.pool.query(
      `insert into chain_deposits (reference, account_id, asset, amount, tx_hash, block_number, confirmations,
                                   required_confirmations, status, seen_ms)
       select $1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9
        where not exists (select 1 from journal_entries
                           where kind = 'deposit' and source = 'deposit:' || $1::text)
       on conflict (reference) do update
         set account_id = excluded.account_id, asset = excluded.asset, amount = excluded.amount,
             tx_hash = excluded.tx_hash, block_number = excluded.block_number,
             confirmations = excluded.confirmations, required_confirmations = excluded.required_confirmations,
             status = 'pending', updated_at = now()
       where chain_deposits.status <> 'credited'`,
      [
        d.ref,
        accountId,
        d.asset.symbol,
        amount.toString(),
        d.txHash,
        d.block,
        head - d.block + 1,
        this.o.confirmations,
        Date.now(),
      ],
    );
  }

  /** Successful transfers of the configured assets to the hot address in blocks from..to (inclusive). */
  private async transfersToHot(from: number, to: number, hot: string): Promise<TransferToHot[]> {
    const { provider } = this.o;
    const found: TransferToHot[] = [];
    const native = [...this.assets.values()].find((a) => !a.token);
    if (native) {
      for (let b = from; b <= to; b++) {
        const block = await provider.getBlock(b, true);
        for (const tx of block?.prefetchedTransactions ?? []) {
          if (tx.to && getAddress(tx.to) === hot && tx.value > 0n) {
            const receipt = await provider.getTransactionReceipt(tx.hash);
            if (receipt?.status === 1)
              found.push({
                ref: `chain:${tx.hash}:eth`,
                txHash: tx.hash,
                asset: native,
                from: tx.from,
                wei: tx.value,
                block: b,
              });
          }
        }
      }
    }
    for (const asset of this.byToken.values()) {
      const logs = await provider.getLogs({
        address: asset.token!,
        topics: [TRANSFER_TOPIC, null, zeroPadValue(hot, 32)],
        fromBlock: from,
        toBlock: to,
      });
      for (const log of logs) {
        const parsed = ERC20.parseLog(log)!;
        found.push({
          ref: `chain:${log.transactionHash}:${log.index}`,
          txHash: log.transactionHash,
          asset,
          from: parsed.args.from as string,
          wei: parsed.args.value as bigint,
          block: log.blockNumber,
        });
      }
    }
    return found;
  }

  private async linkedAccount(address: string): Promise<string | undefined> {
    const r = await this.o.pool.query(
      "select account_id from wallet_links where lower(address) = lower($1) and unlinked_at is null",
      [address],
    );
    return r.rows[0]?.account_id;
  }

  // ---------------------------------------------------------------- withdrawals

  /**
   * Holds the funds and queues the withdrawal (idempotent by id). `to` defaults to the account's
   * linked address.
   */
  async requestWithdrawal(
    withdrawalId: string,
    accountId: string,
    asset: string,
    amount: bigint,
    to?: string,
  ): Promise<WithdrawalRow> {
    checkId(withdrawalId, "withdrawal_id");
    checkAccount(accountId);
    checkAmount(amount);
    if (!this.assets.has(asset))
      throw new WalletError("UNKNOWN_ASSET", `${asset} is not withdrawable on chain`, "asset");
    const dest = to ?? (await this.linkedAddressOf(accountId));
    if (!dest || !isAddress(dest))
      throw invalid("to_address", "a valid destination (or a linked address) is required");
    const toAddress = getAddress(dest.toLowerCase());
    const existing = await this.withdrawal(withdrawalId);
    if (existing) {
      if (existing.accountId !== accountId) {
        throw new WalletError(
          "PERMISSION_DENIED",
          `withdrawal ${withdrawalId} belongs to another account`,
          "withdrawal_id",
        );
      }
      if (
        existing.accountId !== accountId ||
        existing.asset !== asset ||
        existing.amount !== amount ||
        existing.toAddress !== toAddress
      ) {
        throw new WalletError("ALREADY_EXISTS", `withdrawal ${withdrawalId} exists with other parameters`);
      }
      return existing;
    }
    await this.o.ledger.reserve(accountId, asset, amount, `wd:${withdrawalId}`);
    await this.o.pool.query(
      `insert into withdrawals (withdrawal_id, account_id, asset, amount, to_address, status)
       values ($1, $2, $3, $4, $5, 'pending') on conflict (withdrawal_id) do nothing`,
      [withdrawalId, accountId, asset, amount.toString(), toAddress],
    );
    return (await this.withdrawal(withdrawalId))!;
  }

  private async linkedAddressOf(accountId: string): Promise<string | undefined> {
    const r = await this.o.pool.query(
      "select address from wallet_links where account_id = $1 and unlinked_at is null",
      [accountId],
    );
    return r.rows[0]?.address;
  }

  async withdrawal(id: string): Promise<WithdrawalRow | undefined> {
    const r = await this.o.pool.query("select * from withdrawals where withdrawal_id = $1", [id]);
    return r.rows[0] ? withdrawalOf(r.rows[0]) : undefined;
  }

  /** Whether `symbol` is deposited and withdrawn on chain through this gateway. */
  isChainAsset(symbol: string): boolean {
    return this.assets.has(symbol);
  }

  /** Signs, stores and broadcasts every pending withdrawal, in order, with consecutive nonces. */
  async sendPending(): Promise<number> {
    const { pool, provider } = this.o;
    const pending = await pool.query(
      "select * from withdrawals where status = 'pending' order by created_at, withdrawal_id",
    );
    if (pending.rows.length === 0) return 0;
    const signer = await this.signer();
    const hot = await this.hotAddress();
    const maxRow = await pool.query("select max(nonce) as n from withdrawals");
    const chainNonce = BigInt(await provider.getTransactionCount(hot, "pending"));
    let nonce = maxRow.rows[0].n === null ? chainNonce : BigInt(maxRow.rows[0].n) + 1n;
    if (chainNonce > nonce) nonce = chainNonce;
    const fees = await provider.getFeeData();
    const { chainId } = await provider.getNetwork();
    let sent = 0;
    for (const w of pending.rows) {
      const asset = this.assets.get(w.asset)!;
      const wei = BigInt(w.amount) * this.factor(asset);
      const tx: TransactionRequest = asset.token
        ? {
            to: asset.token,
            data: ERC20.encodeFunctionData("transfer", [w.to_address, wei]),
            value: 0n,
            gasLimit: 100_000n,
          }
        : { to: w.to_address, value: wei, gasLimit: 21_000n };
      const raw = await signer.signTransaction({
        ...tx,
        from: hot,
        nonce: Number(nonce),
        chainId,
        type: 2,
        maxFeePerGas: fees.maxFeePerGas ?? fees.gasPrice ?? 1_000_000_000n,
        maxPriorityFeePerGas: fees.maxPriorityFeePerGas ?? 0n,
      });
      const hash = Transaction.from(raw).hash!;
      // Durable before broadcast: after a crash the same signed bytes go out again, never a second payment.
      await pool.query(
        `update withdrawals set status = 'sent', nonce = $2, raw_tx = $3, tx_hash = $4, updated_at = now()
         where withdrawal_id = $1 and status = 'pending'`,
        [w.withdrawal_id, nonce.toString(), raw, hash],
      );
      nonce++;
      await this.broadcast(raw);
      sent++;
    }
    return sent;
  }

  private async broadcast(raw: string): Promise<void> {
    try {
      await this.o.provider.broadcastTransaction(raw);
    } catch (error) {
      const msg = String((error as Error).message ?? error);
      // Already in the pool or mined: the receipt check decides.
      if (!/already known|nonce too low|known transaction|already imported/i.test(msg)) throw error;
    }
  }

  /** Pays out confirmed withdrawals, releases reverted ones, rebroadcasts those not yet mined. */
  async confirmSent(): Promise<{ confirmed: number; failed: number }> {
    const { pool, provider, ledger } = this.o;
    const sent = await pool.query("select * from withdrawals where status = 'sent' order by nonce");
    const head = await provider.getBlockNumber();
    let confirmed = 0;
    let failed = 0;
    for (const w of sent.rows) {
      const receipt = await provider.getTransactionReceipt(w.tx_hash);
      if (!receipt) {
        await this.broadcast(w.raw_tx).catch(() => {});
        continue;
      }
      if (head - receipt.blockNumber + 1 < this.o.confirmations) continue;
      if (receipt.status === 1) {
        await ledger.withdrawFromHold(
          `chain:${w.withdrawal_id}`,
          w.account_id,
          w.asset,
          BigInt(w.amount),
          `wd:${w.withdrawal_id}`,
        );
        await pool.query(
          "update withdrawals set status = 'confirmed', updated_at = now() where withdrawal_id = $1",
          [w.withdrawal_id],
        );
        confirmed++;
      } else {
        await ledger.release(w.account_id, `wd:${w.withdrawal_id}`, 0n);
        await pool.query(
          "update withdrawals set status = 'failed', updated_at = now() where withdrawal_id = $1",
          [w.withdrawal_id],
        );
        failed++;
      }
    }
    return { confirmed, failed };
  }

  /** ERC-20 balance helper for reconciliation (on-chain holdings of the hot address). */
  async onChainBalance(symbol: string): Promise<bigint> {
    const a = this.assets.get(symbol);
    if (!a) throw new WalletError("UNKNOWN_ASSET", `${symbol} is not an on-chain asset`);
    const hot = await this.hotAddress();
    if (!a.token) return this.o.provider.getBalance(hot);
    const c = new Contract(a.token, ["function balanceOf(address) view returns (uint256)"], this.o.provider);
    return (await c.getFunction("balanceOf")(hot)) as bigint;
  }
}
