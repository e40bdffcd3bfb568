import { constants } from "node:fs";
import { type FileHandle, mkdir, open } from "node:fs/promises";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import {
  type CommittedOffset,
  type Durability,
  type LoadSink,
  type StoredRecord,
  serialised,
} from "./durability";

/**
 * An append-only log file `<dir>/eventlog.log` of framed entries:
 *
 *   frame   = u32be payloadLength, u32be crc32(payload), payload
 *   payload = u8 type, then   1 topic:  str name, u32 partitions
 *                             2 record: str topic, u32 partition, u64 offset, f64 timestamp,
 *                                       str key, str headersJson, bytes value
 *                             3 commit: str groupId, str topic, u32 partition, u64 offset
 *   str/bytes = u32be length, bytes (strings UTF-8)
 *
 * Each append / commit / createTopic is one write followed by fdatasync. On open the file is scanned;
 * the first frame that is incomplete or fails its CRC ends the log: the file is truncated there (a
 * torn tail from a crash mid-write) and `onTruncate` is told how many bytes were dropped.
 * One process at a time: an exclusive `eventlog.lock` file (holding the pid) guards the directory.
 */
export interface FileDurabilityOptions {
  dir: string;
  onTruncate?(info: { file: string; validBytes: number; droppedBytes: number }): void;
}

const TOPIC = 1;
const RECORD = 2;
const COMMIT = 3;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function fileDurability(opts: FileDurabilityOptions): Durability {
  const file = join(opts.dir, "eventlog.log");
  const lockFile = join(opts.dir, "eventlog.lock");
  let handle: FileHandle | undefined;
  let lock: FileHandle | undefined;
  let size = 0;
  // Appends, commits and topic creations come from independent callers: one write at a time.
  const write = serialised(async (payloads: Uint8Array[]) => {
    if (!handle) throw new Error("file durability is not open");
    const frames = Buffer.concat(payloads.map(frame));
    try {
      let written = 0;
      while (written < frames.length) {
        const { bytesWritten } = await handle.write(frames, written, frames.length - written, size + written);
        written += bytesWritten;
      }
      await handle.datasync();
      size += frames.length;
    } catch (error) {
      // Leave no partial frame behind: the next write starts at the last durable end.
      await handle.truncate(size).catch(() => {});
      throw error;
    }
  });

  return {
    kind: "file",
    async load(sink: LoadSink) {
      await mkdir(opts.dir, { recursive: true });
      lock = await acquireLock(lockFile);
      handle = await open(file, constants.O_RDWR | constants.O_CREAT);
      const data = await handle.readFile();
      size = scan(data, sink);
      if (size < data.length) {
        await handle.truncate(size);
        await handle.datasync();
        (opts.onTruncate ?? defaultOnTruncate)({ file, validBytes: size, droppedBytes: data.length - size });
      }
      await fsyncDir(opts.dir);
    },
    async createTopic(name, partitions) {
      const w = new Writer();
      w.u8(TOPIC).str(name).u32(partitions);
      await write([w.finish()]);
    },
    async append(records: StoredRecord[]) {
      await write(records.map(encodeRecord));
    },
    async commit(offsets: CommittedOffset[]) {
      await write(
        offsets.map((o) => {
          const w = new Writer();
          w.u8(COMMIT).str(o.groupId).str(o.topic).u32(o.partition).u64(o.offset);
          return w.finish();
        }),
      );
    },
    async close() {
      await write([]).catch(() => {}); // waits for writes in progress
      await handle?.close();
      handle = undefined;
      if (lock) {
        await lock.close();
        const { rm } = await import("node:fs/promises");
        await rm(lockFile, { force: true });
        lock = undefined;
      }
    },
  };
}

function defaultOnTruncate(info: { file: string; validBytes: number; droppedBytes: number }): void {
  process.stderr.write(
    `[eventlog] ${info.file}: dropped a torn tail of ${info.droppedBytes} bytes (kept ${info.validBytes})\n`,
  );
}

async function acquireLock(lockFile: string): Promise<FileHandle> {
  const { readFile, rm } = await import("node:fs/promises");
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const h = await open(lockFile, "wx");
      await h.write(`${process.pid}\n`);
      return h;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const pid = Number.parseInt(await readFile(lockFile, "utf8").catch(() => ""), 10);
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
        throw new Error(`${lockFile}: the event log is open in process ${pid}`);
      }
      if (pid === process.pid) throw new Error(`${lockFile}: the event log is already open in this process`);
      await rm(lockFile, { force: true }); // stale lock of a dead process
    }
  }
  throw new Error(`${lockFile}: could not acquire the lock`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const h = await open(dir, constants.O_RDONLY);
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

function frame(payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(8 + payload.length);
  out.writeUInt32BE(payload.length, 0);
  out.writeUInt32BE(crc32(payload), 4);
  out.set(payload, 8);
  return out;
}

function encodeRecord(r: StoredRecord): Uint8Array {
  const w = new Writer();
  w.u8(RECORD).str(r.topic).u32(r.partition).u64(r.offset).f64(r.timestamp).str(r.key);
  w.str(JSON.stringify(r.headers)).bytes(r.value);
  return w.finish();
}

/** Decodes frames until the end or the first bad frame; returns the length of the valid prefix. */
function scan(data: Buffer, sink: LoadSink): number {
  let pos = 0;
  while (pos + 8 <= data.length) {
    const length = data.readUInt32BE(pos);
    const crc = data.readUInt32BE(pos + 4);
    if (pos + 8 + length > data.length) break;
    const payload = data.subarray(pos + 8, pos + 8 + length);
    if (crc32(payload) !== crc) break;
    try {
      decode(payload, sink);
    } catch {
      break;
    }
    pos += 8 + length;
  }
  return pos;
}

function decode(payload: Buffer, sink: LoadSink): void {
  const r = new Reader(payload);
  const type = r.u8();
  if (type === TOPIC) {
    sink.topic(r.str(), r.u32());
  } else if (type === RECORD) {
    const topic = r.str();
    const partition = r.u32();
    const offset = r.u64();
    const timestamp = r.f64();
    const key = r.str();
    const headers = JSON.parse(r.str()) as Record<string, string>;
    const value = r.bytes();
    sink.record({ topic, partition, offset, key, value, headers, timestamp });
  } else if (type === COMMIT) {
    sink.committed({ groupId: r.str(), topic: r.str(), partition: r.u32(), offset: r.u64() });
  } else {
    throw new Error(`unknown entry type ${type}`);
  }
  if (!r.atEnd()) throw new Error("trailing bytes in entry");
}

class Writer {
  private parts: Uint8Array[] = [];
  private length = 0;
  private push(b: Uint8Array): this {
    this.parts.push(b);
    this.length += b.length;
    return this;
  }
  u8(n: number): this {
    return this.push(Uint8Array.of(n));
  }
  u32(n: number): this {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32BE(n, 0);
    return this.push(b);
  }
  u64(n: bigint): this {
    const b = Buffer.allocUnsafe(8);
    b.writeBigUInt64BE(n, 0);
    return this.push(b);
  }
  f64(n: number): this {
    const b = Buffer.allocUnsafe(8);
    b.writeDoubleBE(n, 0);
    return this.push(b);
  }
  bytes(v: Uint8Array): this {
    return this.u32(v.length).push(v);
  }
  str(s: string): this {
    return this.bytes(encoder.encode(s));
  }
  finish(): Uint8Array {
    return Buffer.concat(this.parts, this.length);
  }
}

class Reader {
  private pos = 0;
  constructor(private readonly buf: Buffer) {}
  private need(n: number): number {
    if (this.pos + n > this.buf.length) throw new Error("entry too short");
    const at = this.pos;
    this.pos += n;
    return at;
  }
  u8(): number {
    return this.buf.readUInt8(this.need(1));
  }
  u32(): number {
    return this.buf.readUInt32BE(this.need(4));
  }
  u64(): bigint {
    return this.buf.readBigUInt64BE(this.need(8));
  }
  f64(): number {
    return this.buf.readDoubleBE(this.need(8));
  }
  bytes(): Uint8Array {
    const n = this.u32();
    const at = this.need(n);
    return new Uint8Array(this.buf.subarray(at, at + n));
  }
  str(): string {
    return decoder.decode(this.bytes());
  }
  atEnd(): boolean {
    return this.pos === this.buf.length;
  }
}
