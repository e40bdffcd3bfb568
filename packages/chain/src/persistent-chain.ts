/**
 * A local EVM whose state survives a restart. EDR keeps its state in memory only, so the chain is
 * event-sourced: every state-changing JSON-RPC request runs with an explicit next-block timestamp
 * and is appended (fsync) to a journal before its answer is returned; on start the journal is
 * replayed in order with the same timestamps, which rebuilds the same blocks byte for byte (same
 * block and transaction hashes, balances, storage). Each record carries the head it produced, so a
 * replay that diverges stops with an error instead of silently forking.
 *
 * Requests that would break replay (snapshots, reverts, resets, impersonation, mining-mode changes)
 * are refused with JSON-RPC error -32004. State-changing requests run one at a time, so the journal
 * order is the execution order; reads wait for a write in progress, so nothing that is not yet
 * durable is ever observed.
 */
import { type FileHandle, mkdir, open, readFile, truncate } from "node:fs/promises";
import { dirname } from "node:path";
import { BrowserProvider, type Eip1193Provider, type Wallet } from "ethers";
import { type LocalChain, startLocalChain } from "./local-chain.ts";

/** Enough of a pino logger for this module. */
export interface ChainLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface PersistentChainOptions {
  /** The journal; created (with a genesis time of now) when missing or empty. */
  journalFile: string;
  /** Funded dev accounts of a new journal (an existing journal keeps its own count). Default 20. */
  accounts?: number;
  logger?: ChainLogger;
  /** Wall clock in ms (tests pin it). */
  now?: () => number;
}

export interface PersistentChainStats {
  /** Records in the journal (replayed plus appended). */
  records: number;
  /** Records replayed at start. */
  replayed: number;
  headNumber: number;
  headHash: string;
  /** Newest block that holds a transaction (0 = none). */
  lastActiveBlock: number;
}

export interface BlockProducer {
  stop(): Promise<void>;
}

export interface PersistentChain {
  /** ethers provider over the journaled EIP-1193 interface. */
  provider: BrowserProvider;
  /** The journaled EIP-1193 interface (what `serveJsonRpc` exposes over HTTP). */
  eip1193: Eip1193Provider;
  /** Funded dev wallets (Hardhat's development mnemonic), connected to `provider`. */
  wallets: Wallet[];
  chainId: bigint;
  journalFile: string;
  stats(): PersistentChainStats;
  /** Advance time by `seconds` and mine one block (both journaled). */
  increaseTime(seconds: number): Promise<void>;
  /** Mine `n` empty blocks (journaled). */
  mine(n: number): Promise<void>;
  /**
   * Mines an empty block every `intervalMs` (a journaled evm_mine) so confirmation depths advance,
   * but only while the newest transaction has fewer than `idleBlocks` blocks on top: an idle chain
   * stops growing its journal.
   */
  startBlockProducer(o: {
    intervalMs: number;
    idleBlocks?: number;
    onError?: (error: unknown) => void;
  }): BlockProducer;
  /** Waits for the write in progress, stops block producers, closes the journal. */
  close(): Promise<void>;
}

/** JSON-RPC error with its code (EIP-1474), as the EIP-1193 wrapper of local-chain throws them. */
export class ChainRpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
  }
}

const JOURNAL_FORMAT = "excraft-chain-journal";
const JOURNAL_VERSION = 1;
const CHAIN_ID = 31337n;

/** Requests that mine a block (or several): each runs with an explicit next-block timestamp. */
const MINING = new Set(["eth_sendRawTransaction", "eth_sendTransaction", "evm_mine", "hardhat_mine"]);
/** Every state-changing request that is journaled and replayed. */
const JOURNALED = new Set([
  ...MINING,
  "evm_increaseTime",
  "evm_setNextBlockTimestamp",
  "hardhat_setBalance",
  "hardhat_setCode",
  "hardhat_setNonce",
  "hardhat_setStorageAt",
]);
/** Read-only requests outside the eth_/net_/web3_ namespaces. */
const READS = new Set([
  "personal_sign",
  "debug_traceTransaction",
  "debug_traceCall",
  "hardhat_metadata",
  "hardhat_getAutomine",
]);
const REFUSAL_REASONS: Record<string, string> = {
  evm_snapshot: "the journal only replays forward, so history cannot be rewound",
  evm_revert: "the journal only replays forward, so history cannot be rewound",
  hardhat_reset: "the journal only replays forward; delete the journal to start a new chain",
  evm_setAutomine: "mining is fixed (automine plus the block producer) so replay mines the same blocks",
  evm_setIntervalMining: "mining is fixed (automine plus the block producer) so replay mines the same blocks",
};

interface JournalHeader {
  format: typeof JOURNAL_FORMAT;
  version: number;
  chainId: number;
  accounts: number;
  genesisBlockTime: number;
}

interface JournalRecord {
  /** Sequence number, 1, 2, … (a gap or repeat means a damaged journal). */
  i: number;
  m: string;
  p: unknown[];
  /** Next-block timestamp the request ran with (mining requests only). */
  ts?: number;
  /** Time offset (seconds added to the wall clock) after the request. */
  off: number;
  /** Head block number and hash after the request: replay must reach the same. */
  n: number;
  h: string;
}

interface Head {
  number: number;
  hash: string;
  timestamp: number;
}

/** The journal file: JSON lines, a header then one record per acknowledged state change. */
class Journal {
  private constructor(private readonly fh: FileHandle) {}

  /**
   * Reads the journal. A last line without its newline is a write torn by a crash (its request was
   * never acknowledged): it is cut off. Any other damage is an error naming the line.
   */
  static async read(
    file: string,
    logger?: ChainLogger,
  ): Promise<{ header: JournalHeader | undefined; records: JournalRecord[] }> {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return { header: undefined, records: [] };
      throw error;
    }
    const end = text.lastIndexOf("\n") + 1;
    if (end < text.length) {
      logger?.warn(
        { file, bytes: text.length - end },
        "chain journal: ignoring an incomplete last record (a write torn by a crash; it was never acknowledged)",
      );
      await truncate(file, Buffer.byteLength(text.slice(0, end)));
      text = text.slice(0, end);
    }
    if (text === "") return { header: undefined, records: [] };
    const lines = text.slice(0, -1).split("\n");
    const parse = (line: string, n: number): unknown => {
      try {
        return JSON.parse(line);
      } catch {
        throw new Error(`${file}:${n}: corrupt chain journal record (not JSON): ${line.slice(0, 80)}`);
      }
    };
    const header = parse(lines[0]!, 1) as JournalHeader;
    if (header?.format !== JOURNAL_FORMAT || header.version !== JOURNAL_VERSION) {
      throw new Error(`${file}:1: not an ExCraft chain journal (version ${JOURNAL_VERSION})`);
    }
    const records: JournalRecord[] = [];
    for (let k = 1; k < lines.length; k++) {
      const r = parse(lines[k]!, k + 1) as JournalRecord;
      if (
        typeof r !== "object" ||
        r === null ||
        r.i !== k ||
        typeof r.m !== "string" ||
        !JOURNALED.has(r.m) ||
        !Array.isArray(r.p) ||
        typeof r.n !== "number" ||
        typeof r.h !== "string" ||
        typeof r.off !== "number"
      ) {
        throw new Error(`${file}:${k + 1}: corrupt chain journal record (expected record ${k})`);
      }
      records.push(r);
    }
    return { header, records };
  }

  static async open(file: string, createWith?: JournalHeader): Promise<Journal> {
    await mkdir(dirname(file), { recursive: true });
    const fh = await open(file, "a");
    const journal = new Journal(fh);
    if (createWith) {
      await journal.append(createWith);
      // The new file's directory entry must be durable too.
      const dir = await open(dirname(file), "r");
      await dir.sync().finally(() => dir.close());
    }
    return journal;
  }

  /** One line per record, durable (fdatasync) before it resolves. */
  async append(record: object): Promise<void> {
    await this.fh.write(`${JSON.stringify(record)}\n`);
    await this.fh.datasync();
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}

/**
 * Reads-share / writes-exclude gate in arrival order: a write waits for every earlier request, a
 * read waits for earlier writes only.
 */
class Gate {
  private lastWrite: Promise<unknown> = Promise.resolve();
  private readsSinceWrite: Promise<unknown>[] = [];

  shared<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.lastWrite.then(fn);
    this.readsSinceWrite.push(p.catch(() => {}));
    return p;
  }

  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const before = Promise.all([this.lastWrite, ...this.readsSinceWrite]);
    this.readsSinceWrite = [];
    const p = before.then(fn);
    this.lastWrite = p.catch(() => {});
    return p;
  }
}

function quantity(value: unknown, what: string): number {
  let n: number | undefined;
  if (typeof value === "number") n = value;
  else if (typeof value === "string" && /^0x[0-9a-fA-F]+$/.test(value)) n = Number(BigInt(value));
  else if (typeof value === "string" && /^\d+$/.test(value)) n = Number(value);
  if (n === undefined || !Number.isSafeInteger(n) || n < 0) {
    throw new ChainRpcError(-32602, `${what} must be a non-negative integer (got ${JSON.stringify(value)})`);
  }
  return n;
}

function asRpcError(error: unknown): ChainRpcError {
  if (error instanceof ChainRpcError) return error;
  const e = error as { code?: number; message?: string; data?: unknown };
  return new ChainRpcError(e.code ?? -32603, e.message ?? String(error), e.data);
}

export async function startPersistentChain(o: PersistentChainOptions): Promise<PersistentChain> {
  const now = o.now ?? Date.now;
  const nowSec = () => Math.floor(now() / 1000);
  const { header: stored, records } = await Journal.read(o.journalFile, o.logger);
  const header: JournalHeader = stored ?? {
    format: JOURNAL_FORMAT,
    version: JOURNAL_VERSION,
    chainId: Number(CHAIN_ID),
    accounts: o.accounts ?? 20,
    genesisBlockTime: nowSec(),
  };
  if (BigInt(header.chainId) !== CHAIN_ID) {
    throw new Error(`${o.journalFile}: journal of chain ${header.chainId}, this build runs ${CHAIN_ID}`);
  }
  const raw: LocalChain = await startLocalChain(header.accounts, {
    genesisBlockTime: BigInt(header.genesisBlockTime),
  });
  const edr = (method: string, params: unknown[] = []) => raw.eip1193.request({ method, params });
  const readHead = async (): Promise<Head> => {
    const b = (await edr("eth_getBlockByNumber", ["latest", false])) as {
      number: string;
      hash: string;
      timestamp: string;
    };
    return { number: Number(b.number), hash: b.hash, timestamp: Number(b.timestamp) };
  };

  // Chain-side clock: what evm_increaseTime and evm_setNextBlockTimestamp change.
  let offset = 0;
  let pendingNext: number | undefined;
  let head = await readHead();
  let lastActiveBlock = 0;
  let seq = 0;

  /**
   * Runs one state-changing request on EDR; `ts` is the next-block timestamp of a mining request.
   * Shared by live requests and replay, so both change the clock and head the same way.
   */
  const execute = async (
    m: string,
    p: unknown[],
    ts: number | undefined,
  ): Promise<{ result?: unknown; error?: ChainRpcError; changed: boolean }> => {
    const before = head;
    let result: unknown;
    let error: ChainRpcError | undefined;
    try {
      if (ts !== undefined) await edr("evm_setNextBlockTimestamp", [ts]);
      result = await edr(m, p);
    } catch (e) {
      error = asRpcError(e);
    }
    head = await readHead();
    const mined = head.number > before.number;
    if (mined) pendingNext = undefined;
    if (mined && (m === "eth_sendRawTransaction" || m === "eth_sendTransaction")) {
      lastActiveBlock = head.number;
    }
    if (!error && m === "evm_setNextBlockTimestamp") pendingNext = p[0] as number;
    if (!error && m === "evm_increaseTime") offset += p[0] as number;
    // A failed request that still changed the chain is journaled like a successful one.
    const changed = !error || head.hash !== before.hash;
    return { result, error, changed };
  };

  const replayStarted = Date.now();
  for (const r of records) {
    await execute(r.m, r.p, r.ts);
    if (head.number !== r.n || head.hash !== r.h) {
      throw new Error(
        `${o.journalFile}:${r.i + 1}: replay diverged at record ${r.i} (${r.m}): head ${head.number} ${head.hash}, journal says ${r.n} ${r.h}`,
      );
    }
    offset = r.off;
    seq = r.i;
  }
  const journal = await Journal.open(o.journalFile, stored ? undefined : header);
  o.logger?.info(
    {
      journal: o.journalFile,
      records: records.length,
      head: head.number,
      hash: head.hash,
      ms: Date.now() - replayStarted,
    },
    stored ? "local chain restored from its journal" : "local chain created (new journal)",
  );

  const gate = new Gate();
  let closed = false;
  let closing: Promise<void> | undefined;

  const write = (method: string, params: unknown[]): Promise<unknown> =>
    gate.exclusive(async () => {
      if (closed) throw new ChainRpcError(-32002, "the local chain is shut down");
      let p = params;
      let ts: number | undefined;
      // Whether the client chose this block's time (evm_mine(ts) or evm_setNextBlockTimestamp).
      let chosen = false;
      if (method === "evm_setNextBlockTimestamp" || method === "evm_increaseTime") {
        p = [quantity(params[0], `${method} parameter`)];
      } else if (method === "evm_mine" && params[0] !== undefined) {
        // evm_mine(timestamp) = that block's timestamp; journaled in the plain form.
        ts = quantity(params[0], "evm_mine timestamp");
        p = [];
        chosen = true;
      } else if (MINING.has(method)) {
        chosen = pendingNext !== undefined;
        ts = pendingNext ?? Math.max(head.timestamp + 1, nowSec() + offset);
      }
      const before = head.number;
      const outcome = await execute(method, p, ts);
      // A block at a chosen time moves the clock there (as in Hardhat): later blocks follow from it.
      if (chosen && ts !== undefined && head.number > before) offset = ts - nowSec();
      if (outcome.changed) {
        const record: JournalRecord = { i: seq + 1, m: method, p, off: offset, n: head.number, h: head.hash };
        if (ts !== undefined) record.ts = ts;
        try {
          await journal.append(record);
        } catch (error) {
          // The chain ran ahead of its journal: stop serving rather than acknowledge what a restart loses.
          closed = true;
          o.logger?.warn({ err: error }, "chain journal write failed: the local chain stops");
          throw new ChainRpcError(-32603, `chain journal write failed: ${(error as Error).message}`);
        }
        seq++;
      }
      if (outcome.error) throw outcome.error;
      return outcome.result;
    });

  const eip1193: Eip1193Provider = {
    async request({ method, params }) {
      const list = (params ?? []) as unknown[];
      if (JOURNALED.has(method)) return write(method, list);
      if (/^(eth|net|web3)_/.test(method) || READS.has(method)) {
        return gate.shared(async () => {
          if (closed) throw new ChainRpcError(-32002, "the local chain is shut down");
          return edr(method, list);
        });
      }
      const reason =
        REFUSAL_REASONS[method] ??
        "its effect would not be journaled, so it would be lost or diverge on restart";
      throw new ChainRpcError(-32004, `${method} is not supported by the persistent local chain: ${reason}`);
    },
  };
  const provider = new BrowserProvider(
    eip1193,
    { chainId: Number(CHAIN_ID), name: "excraft-local" },
    { cacheTimeout: -1, pollingInterval: 50 },
  );
  const wallets = raw.wallets.map((w) => w.connect(provider));
  const producers = new Set<() => Promise<void>>();
  const rpc = (method: string, params: unknown[] = []) => eip1193.request({ method, params });

  return {
    provider,
    eip1193,
    wallets,
    chainId: CHAIN_ID,
    journalFile: o.journalFile,
    stats: () => ({
      records: seq,
      replayed: records.length,
      headNumber: head.number,
      headHash: head.hash,
      lastActiveBlock,
    }),
    async increaseTime(seconds) {
      await rpc("evm_increaseTime", [seconds]);
      await rpc("evm_mine");
    },
    async mine(n) {
      await rpc("hardhat_mine", [`0x${n.toString(16)}`]);
    },
    startBlockProducer({ intervalMs, idleBlocks = 64, onError }) {
      let timer: NodeJS.Timeout | undefined;
      let running: Promise<unknown> = Promise.resolve();
      const tick = () => {
        running = (async () => {
          if (!closed && head.number - lastActiveBlock < idleBlocks) await rpc("evm_mine");
        })()
          .catch((error) => onError?.(error))
          .finally(() => {
            if (timer) timer = setTimeout(tick, intervalMs);
          });
      };
      timer = setTimeout(tick, intervalMs);
      const stop = async () => {
        clearTimeout(timer);
        timer = undefined;
        await running;
        producers.delete(stop);
      };
      producers.add(stop);
      return { stop };
    },
    async close() {
      for (const stop of [...producers]) await stop();
      closing ??= (async () => {
        await gate.exclusive(async () => {
          closed = true;
        });
        provider.destroy();
        raw.provider.destroy();
        await journal.close();
      })();
      await closing;
    },
  };
}
