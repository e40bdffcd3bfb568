import { type ChildProcessWithoutNullStreams, execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, rm } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

/** A running librdkafka mock cluster (Kafka wire protocol on loopback), driven from the test. */
export interface KafkaMock {
  /** Bootstrap addresses, one per broker ("127.0.0.1:port"); broker ids are 1..N in this order. */
  brokers: string[];
  /** Creates a topic on the cluster (replication = min(3, brokers)). The mock has no CreateTopics API. */
  createTopic(name: string, partitions: number): Promise<void>;
  /** Takes a broker down: its listener closes connections; the mock does not move partition leaders. */
  brokerDown(id: number): Promise<void>;
  brokerUp(id: number): Promise<void>;
  /** The next `errors.length` requests with this Kafka API key fail with these error codes, in order. */
  pushRequestErrors(apiKey: number, errors: number[]): Promise<void>;
  stop(): Promise<void>;
}

export interface StartKafkaMockOptions {
  /** Number of brokers (default 1). */
  brokers?: number;
  /** Topics to create before returning. */
  topics?: { name: string; partitions: number }[];
}

const here = dirname(fileURLToPath(import.meta.url));
/** packages/testkit/src → repository root. */
export const repoRoot = resolve(here, "../../..");
const launcherSource = resolve(here, "../native/kafka_mock_launcher.c");
const cacheDir = join(repoRoot, ".testkit");

let compiled: Promise<string> | undefined;

/**
 * Compiles the launcher with gcc once per source version (cached under `<repo>/.testkit/`, keyed
 * by the source hash) and returns the binary's path. Concurrent compiles by other processes are
 * safe: each writes a private temporary file and renames it into place.
 */
export function kafkaMockLauncherPath(): Promise<string> {
  compiled ??= (async () => {
    const source = await readFile(launcherSource);
    const hash = createHash("sha256").update(source).digest("hex").slice(0, 16);
    const binary = join(cacheDir, `kafka_mock_launcher-${hash}`);
    if (existsSync(binary)) return binary;
    await mkdir(cacheDir, { recursive: true });
    const tmp = `${binary}.tmp-${process.pid}`;
    try {
      await execFileAsync("gcc", ["-O2", "-Wall", "-o", tmp, launcherSource, "-lrdkafka"]);
    } catch (error) {
      await rm(tmp, { force: true });
      const stderr = (error as { stderr?: string }).stderr ?? "";
      throw new Error(
        `could not compile ${launcherSource} (needs gcc and Debian librdkafka-dev): ${String(error)}\n${stderr}`,
      );
    }
    await rename(tmp, binary);
    return binary;
  })();
  compiled.catch(() => {
    compiled = undefined;
  });
  return compiled;
}

/** Starts a librdkafka mock cluster in a child process and returns its bootstrap brokers and controls. */
export async function startKafkaMock(opts: StartKafkaMockOptions = {}): Promise<KafkaMock> {
  const brokerCount = opts.brokers ?? 1;
  if (!Number.isInteger(brokerCount) || brokerCount < 1 || brokerCount > 32) {
    throw new Error(`brokers must be an integer in 1..32, got ${brokerCount}`);
  }
  const binary = await kafkaMockLauncherPath();
  const child = spawn(binary, [String(brokerCount)], { stdio: ["pipe", "pipe", "pipe"] });
  const mock = new MockProcess(child);
  const bootstrap = await mock.nextLine(10_000, "the mock cluster's bootstrap address");
  const brokers = bootstrap.split(",").filter((b) => b.length > 0);
  if (brokers.length !== brokerCount) {
    await mock.kill();
    throw new Error(`kafka mock printed ${brokers.length} brokers, expected ${brokerCount}: ${bootstrap}`);
  }
  const replication = Math.min(3, brokerCount);
  const handle: KafkaMock = {
    brokers,
    async createTopic(name, partitions) {
      if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new Error(`invalid topic name: ${name}`);
      if (!Number.isInteger(partitions) || partitions < 1)
        throw new Error(`invalid partitions: ${partitions}`);
      await mock.command(`topic ${name} ${partitions} ${replication}`);
    },
    async brokerDown(id) {
      await mock.command(`down ${checkInt(id, "broker id")}`);
    },
    async brokerUp(id) {
      await mock.command(`up ${checkInt(id, "broker id")}`);
    },
    async pushRequestErrors(apiKey, errors) {
      if (errors.length === 0) return;
      const codes = errors.map((e) => checkInt(e, "error code")).join(" ");
      await mock.command(`errors ${checkInt(apiKey, "api key")} ${errors.length} ${codes}`);
    },
    stop: () => mock.stop(),
  };
  try {
    for (const topic of opts.topics ?? []) await handle.createTopic(topic.name, topic.partitions);
  } catch (error) {
    await mock.kill();
    throw error;
  }
  return handle;
}

function checkInt(n: number, what: string): string {
  if (!Number.isInteger(n)) throw new Error(`${what} must be an integer, got ${n}`);
  return String(n);
}

/** The launcher's line protocol: one command line in, one "ok" / "err <msg>" line out, serialised. */
class MockProcess {
  private readonly lines: string[] = [];
  private waiter: ((line: string | null) => void) | undefined;
  private exited = false;
  private stderr = "";
  private queue: Promise<unknown> = Promise.resolve();
  private readonly exit: Promise<void>;

  constructor(private readonly child: ChildProcessWithoutNullStreams) {
    const rl = createInterface({ input: child.stdout });
    rl.on("line", (line) => {
      const w = this.waiter;
      if (w) {
        this.waiter = undefined;
        w(line);
      } else this.lines.push(line);
    });
    child.stderr.on("data", (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-4000);
    });
    child.stdin.on("error", () => {});
    this.exit = new Promise((resolveExit) => {
      child.on("exit", () => {
        this.exited = true;
        const w = this.waiter;
        this.waiter = undefined;
        w?.(null);
        resolveExit();
      });
      child.on("error", (error) => {
        this.stderr += String(error);
        this.exited = true;
        this.waiter?.(null);
        resolveExit();
      });
    });
  }

  nextLine(timeoutMs: number, what: string): Promise<string> {
    const buffered = this.lines.shift();
    if (buffered !== undefined) return Promise.resolve(buffered);
    if (this.exited) return Promise.reject(new Error(`kafka mock exited; stderr: ${this.stderr}`));
    return new Promise((resolveLine, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; stderr: ${this.stderr}`));
      }, timeoutMs);
      this.waiter = (line) => {
        clearTimeout(timer);
        if (line === null) reject(new Error(`kafka mock exited; stderr: ${this.stderr}`));
        else resolveLine(line);
      };
    });
  }

  command(line: string): Promise<void> {
    const run = async () => {
      if (this.exited) throw new Error(`kafka mock is not running (command: ${line})`);
      this.child.stdin.write(`${line}\n`);
      const reply = await this.nextLine(10_000, `reply to "${line}"`);
      if (reply !== "ok") throw new Error(`kafka mock: "${line}" failed: ${reply}`);
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => {});
    return result;
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 5_000);
    await this.exit;
    clearTimeout(timer);
  }

  async kill(): Promise<void> {
    if (!this.exited) this.child.kill("SIGKILL");
    await this.exit;
  }
}
