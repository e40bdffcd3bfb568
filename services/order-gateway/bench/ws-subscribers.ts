/**
 * WebSocket subscribers for the fan-out phase of gateway-bench.ts, in their own process (forked):
 * N connections to `/stream?streams=<s>@depth@100ms/<s>@trade`, each checking its own continuity
 * (depth: U = previous u + 1; trades: t = previous t + 1, the engine's trade ids are contiguous per
 * market) and the delivery lag = receive time − the event's `E` (the gateway's emission time,
 * `Date.now()` taken when it publishes the event, before it is queued and written to every socket;
 * same machine, same clock). For trades the lag
 * from `T` (the engine's trade time) is recorded too: it adds the projector's durable batch.
 *
 * On 2 cores this process competes with the gateway for CPU: 5,000 sockets × every message, and a
 * fan-out round is read socket by socket, so what it spends per socket and per message ends up in the
 * measured lag of the sockets read last. So it is lean, without being less exact:
 *  - a minimal RFC 6455 client on node:net (handshake with Sec-WebSocket-Accept check, frames with
 *    7/16/64-bit lengths, fragments, ping → masked pong, close code and reason), instead of `ws`'s
 *    stream and event layers; the receive time is read once per socket read, when the bytes of every
 *    message in it came off the socket;
 *  - it reads only the integer fields it needs (E, U, u, t, T) straight from the frame bytes, by
 *    their keys: in these payloads every other value is a symbol, a decimal or an array of decimals,
 *    so a key cannot occur inside a value. Anything that does not match falls back to JSON.parse, and
 *    every 256th message is parsed both ways and compared (`parseMismatches` must stay 0).
 *
 * IPC: ← {type:"connect"} → {type:"connected"}; ← {type:"start"} (reset counters);
 * ← {type:"report"} → {type:"report", ...}; ← {type:"stop"} → exits.
 */
import { createHash, randomBytes } from "node:crypto";
import { connect, type Socket } from "node:net";
import * as hdr from "hdr-histogram-js";

const [url, countText] = process.argv.slice(2);
const COUNT = Number(countText);
const send = (message: unknown) => process.send?.(message);

export interface SubscriberReport {
  type: "report";
  subscribers: number;
  open: number;
  silent: number;
  depthMessages: number;
  tradeMessages: number;
  depthGaps: number;
  tradeGaps: number;
  slowConsumerCloses: number;
  otherCloses: number;
  /** Connections that failed or broke the protocol (handshake, masked or malformed frames). */
  errors: number;
  /** Messages read with JSON.parse because the fast path did not recognise them. */
  parseFallbacks: number;
  /** Sampled messages where the fast path and JSON.parse disagreed. */
  parseMismatches: number;
  seconds: number;
  /** CPU of this process while measuring, in cores. */
  cpuCores: number;
  /** CPU of this process per message received, µs. */
  cpuMicrosPerMessage: number;
  /** Share of that CPU spent in the kernel (socket reads, epoll). */
  cpuSystemShare: number;
  depthLagMs: Percentiles;
  tradeLagMs: Percentiles;
  tradeEngineLagMs: Percentiles;
}
export interface Percentiles {
  count: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

const newHistogram = () =>
  hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000, numberOfSignificantValueDigits: 3 });
let depthLag = newHistogram();
let tradeLag = newHistogram();
let tradeEngineLag = newHistogram();
const counts = {
  depth: 0,
  trade: 0,
  depthGaps: 0,
  tradeGaps: 0,
  slow: 0,
  otherCloses: 0,
  errors: 0,
  fallbacks: 0,
  mismatches: 0,
};
let startedAt = Date.now();
let cpuAtStart = process.cpuUsage();
let stopping = false;

interface Sub {
  socket: Socket;
  lastU: number;
  lastT: number;
  messages: number;
  open: boolean;
  /** Bytes of an incomplete frame from the previous read. */
  rest: Buffer | undefined;
  /** Payloads of a fragmented message so far. */
  fragments: Buffer[] | undefined;
  closeCounted: boolean;
}
const subs: Sub[] = [];

/** The fields lag and gap detection need; undefined fields are absent. */
interface Fields {
  e?: string;
  E?: number;
  U?: number;
  u?: number;
  t?: number;
  T?: number;
}

const QUOTE = 34;
const COLON = 58;

/** Index of the key `"<k>":` (one ASCII letter) in bytes [start, end), or -1. */
function keyAt(raw: Buffer, start: number, end: number, k: number): number {
  for (let i = start; i + 3 < end; i++) {
    if (raw[i] === QUOTE && raw[i + 1] === k && raw[i + 2] === QUOTE && raw[i + 3] === COLON) return i + 4;
  }
  return -1;
}

/** The non-negative integer after the key `"<k>":` in bytes [start, end), or NaN. */
function intAfter(raw: Buffer, start: number, end: number, k: number): number {
  let i = keyAt(raw, start, end, k);
  if (i < 0) return Number.NaN;
  const first = i;
  let n = 0;
  for (let c = raw[i]!; i < end && c >= 48 && c <= 57; c = raw[++i]!) n = n * 10 + (c - 48);
  const next = raw[i];
  // A fraction, an exponent or nothing at all: not one of ours.
  return i === first || next === 46 || next === 101 || next === 69 ? Number.NaN : n;
}

const DEPTH_UPDATE = Buffer.from('depthUpdate"');
const TRADE = Buffer.from('trade"');
const e = "e".charCodeAt(0);
const K = { E: 69, U: 85, u: 117, t: 116, T: 84 };

function startsWithAt(raw: Buffer, at: number, end: number, word: Buffer): boolean {
  if (at + word.length > end) return false;
  for (let j = 0; j < word.length; j++) if (raw[at + j] !== word[j]) return false;
  return true;
}

function fast(raw: Buffer, start: number, end: number): Fields | undefined {
  const at = keyAt(raw, start, end, e);
  if (at < 0 || raw[at] !== QUOTE) return undefined;
  if (startsWithAt(raw, at + 1, end, DEPTH_UPDATE)) {
    const f = {
      e: "depthUpdate",
      E: intAfter(raw, start, end, K.E),
      U: intAfter(raw, start, end, K.U),
      u: intAfter(raw, start, end, K.u),
    };
    return Number.isNaN(f.E + f.U + f.u) ? undefined : f;
  }
  if (startsWithAt(raw, at + 1, end, TRADE)) {
    const f = {
      e: "trade",
      E: intAfter(raw, start, end, K.E),
      t: intAfter(raw, start, end, K.t),
      T: intAfter(raw, start, end, K.T),
    };
    return Number.isNaN(f.E + f.t + f.T) ? undefined : f;
  }
  return undefined;
}

function parsed(raw: Buffer, start: number, end: number): Fields {
  const message = JSON.parse(raw.toString("utf8", start, end)) as { data?: Fields };
  return message.data ?? {};
}

let sampled = 0;
function onMessage(sub: Sub, raw: Buffer, start: number, end: number, received: number): void {
  let data = fast(raw, start, end);
  if (data === undefined) {
    counts.fallbacks++;
    data = parsed(raw, start, end);
  } else if ((++sampled & 255) === 0) {
    const full = parsed(raw, start, end);
    const same =
      full.e === data.e &&
      full.E === data.E &&
      (data.e === "depthUpdate"
        ? full.U === data.U && full.u === data.u
        : full.t === data.t && full.T === data.T);
    if (!same) counts.mismatches++;
  }
  sub.messages++;
  if (data.e === "depthUpdate") {
    counts.depth++;
    depthLag.recordValue(Math.max(1, received - data.E!));
    if (sub.lastU >= 0 && data.U !== sub.lastU + 1) counts.depthGaps++;
    sub.lastU = data.u!;
  } else if (data.e === "trade") {
    counts.trade++;
    tradeLag.recordValue(Math.max(1, received - data.E!));
    tradeEngineLag.recordValue(Math.max(1, received - data.T!));
    if (sub.lastT >= 0 && data.t !== sub.lastT + 1) counts.tradeGaps++;
    sub.lastT = data.t!;
  }
}

/** A masked client frame (RFC 6455 §5.3), for pong and close; payload ≤ 125 bytes. */
function clientFrame(opcode: number, payload: Buffer): Buffer {
  const mask = randomBytes(4);
  const frame = Buffer.allocUnsafe(6 + payload.length);
  frame[0] = 0x80 | opcode;
  frame[1] = 0x80 | payload.length;
  mask.copy(frame, 2);
  for (let i = 0; i < payload.length; i++) frame[6 + i] = payload[i]! ^ mask[i & 3]!;
  return frame;
}

function protocolError(sub: Sub): void {
  counts.errors++;
  sub.closeCounted = true;
  sub.socket.destroy();
}

function onClose(sub: Sub, code: number, reason: string): void {
  if (sub.closeCounted || stopping) return;
  sub.closeCounted = true;
  if (code === 1008 && reason === "slow consumer") counts.slow++;
  else if (sub.open) counts.otherCloses++;
}

/** Every complete frame in `chunk` (after what was left of the previous read). */
function onFrames(sub: Sub, chunk: Buffer): void {
  const received = Date.now();
  const buf = sub.rest ? Buffer.concat([sub.rest, chunk]) : chunk;
  sub.rest = undefined;
  let at = 0;
  while (at + 2 <= buf.length) {
    const b0 = buf[at]!;
    const b1 = buf[at + 1]!;
    // Server frames are never masked and, without extensions, have no RSV bits (§5.1, §5.2).
    if (b1 & 0x80 || b0 & 0x70) {
      protocolError(sub);
      return;
    }
    let length = b1 & 0x7f;
    let header = 2;
    if (length === 126) {
      if (at + 4 > buf.length) break;
      length = buf.readUInt16BE(at + 2);
      header = 4;
    } else if (length === 127) {
      if (at + 10 > buf.length) break;
      length = Number(buf.readBigUInt64BE(at + 2));
      header = 10;
    }
    const start = at + header;
    const end = start + length;
    if (end > buf.length) break;
    at = end;
    const fin = (b0 & 0x80) !== 0;
    const opcode = b0 & 0x0f;
    if (opcode === 1 || opcode === 2 || opcode === 0) {
      // A continuation needs a message to continue, a new message needs none open.
      if ((opcode === 0) !== (sub.fragments !== undefined)) {
        protocolError(sub);
        return;
      }
      if (fin && !sub.fragments) {
        onMessage(sub, buf, start, end, received);
      } else {
        sub.fragments ??= [];
        sub.fragments.push(Buffer.from(buf.subarray(start, end))); // the read buffer is reused
        if (fin) {
          const whole = Buffer.concat(sub.fragments);
          sub.fragments = undefined;
          onMessage(sub, whole, 0, whole.length, received);
        }
      }
    } else if (opcode === 9) {
      sub.socket.write(clientFrame(0xa, buf.subarray(start, end)));
    } else if (opcode === 8) {
      const code = length >= 2 ? buf.readUInt16BE(start) : 1005;
      onClose(sub, code, buf.toString("utf8", start + 2, end));
      sub.socket.end(clientFrame(0x8, buf.subarray(start, Math.min(end, start + 2))));
      return;
    } else if (opcode !== 10) {
      protocolError(sub);
      return;
    }
  }
  // Keep an incomplete frame: a copy, the read buffer is reused.
  if (at < buf.length) sub.rest = Buffer.from(buf.subarray(at));
}

const target = new URL(url!);
/** Every socket reads into this: each read is handled at once, and what must outlive it is copied. */
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);
const WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

function connectOne(): Promise<void> {
  return new Promise((resolve) => {
    const key = randomBytes(16).toString("base64");
    const accept = createHash("sha1")
      .update(key + WS_GUID)
      .digest("base64");
    const socket = connect({
      host: target.hostname,
      port: Number(target.port),
      noDelay: true,
      // Reads land in one shared buffer, handed over without the stream layer and its 'data' events.
      onread: {
        buffer: READ_BUFFER,
        callback: (n) => {
          if (sub.open) onFrames(sub, READ_BUFFER.subarray(0, n));
          else onHandshake(READ_BUFFER.subarray(0, n));
          return true; // keep reading
        },
      },
    });
    const sub: Sub = {
      socket,
      lastU: -1,
      lastT: -1,
      messages: 0,
      open: false,
      rest: undefined,
      fragments: undefined,
      closeCounted: false,
    };
    subs.push(sub);
    let head = Buffer.alloc(0);
    const onHandshake = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const endOfHead = head.indexOf("\r\n\r\n");
      if (endOfHead < 0) return;
      const lines = head.toString("latin1", 0, endOfHead).split("\r\n");
      const headers = new Map(
        lines.slice(1).map((line) => {
          const colon = line.indexOf(":");
          return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()] as const;
        }),
      );
      if (!/^HTTP\/1\.1 101 /.test(lines[0]!) || headers.get("sec-websocket-accept") !== accept) {
        protocolError(sub);
        resolve();
        return;
      }
      sub.open = true;
      resolve();
      if (head.length > endOfHead + 4) onFrames(sub, head.subarray(endOfHead + 4));
    };
    socket.once("connect", () =>
      socket.write(
        `GET ${target.pathname}${target.search} HTTP/1.1\r\nHost: ${target.host}\r\nUpgrade: websocket\r\n` +
          `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      ),
    );
    socket.on("close", () => {
      onClose(sub, 1006, "");
      sub.open = false;
      resolve();
    });
    socket.on("error", () => {
      if (!stopping && !sub.closeCounted) counts.errors++;
      sub.closeCounted = true;
      resolve();
    });
  });
}

function percentiles(h: hdr.Histogram): Percentiles {
  return {
    count: h.totalCount,
    p50: h.getValueAtPercentile(50),
    p99: h.getValueAtPercentile(99),
    p999: h.getValueAtPercentile(99.9),
    max: h.maxValue,
  };
}

process.on("message", async (message: { type: string }) => {
  if (message.type === "connect") {
    const started = Date.now();
    for (let i = 0; i < COUNT; i += 250) {
      await Promise.all(Array.from({ length: Math.min(250, COUNT - i) }, connectOne));
    }
    send({ type: "connected", open: subs.filter((s) => s.open).length, ms: Date.now() - started });
  } else if (message.type === "start") {
    depthLag = newHistogram();
    tradeLag = newHistogram();
    tradeEngineLag = newHistogram();
    for (const key of Object.keys(counts) as (keyof typeof counts)[]) counts[key] = 0;
    for (const sub of subs) sub.messages = 0;
    startedAt = Date.now();
    cpuAtStart = process.cpuUsage();
    send({ type: "started" });
  } else if (message.type === "report") {
    const cpu = process.cpuUsage(cpuAtStart);
    const seconds = (Date.now() - startedAt) / 1000;
    const report: SubscriberReport = {
      type: "report",
      subscribers: subs.length,
      open: subs.filter((s) => s.open).length,
      silent: subs.filter((s) => s.messages === 0).length,
      depthMessages: counts.depth,
      tradeMessages: counts.trade,
      depthGaps: counts.depthGaps,
      tradeGaps: counts.tradeGaps,
      slowConsumerCloses: counts.slow,
      otherCloses: counts.otherCloses,
      errors: counts.errors,
      parseFallbacks: counts.fallbacks,
      parseMismatches: counts.mismatches,
      seconds,
      cpuCores: Number(((cpu.user + cpu.system) / 1e6 / seconds).toFixed(2)),
      cpuMicrosPerMessage: Number(
        ((cpu.user + cpu.system) / Math.max(1, counts.depth + counts.trade)).toFixed(2),
      ),
      cpuSystemShare: Number((cpu.system / Math.max(1, cpu.user + cpu.system)).toFixed(2)),
      depthLagMs: percentiles(depthLag),
      tradeLagMs: percentiles(tradeLag),
      tradeEngineLagMs: percentiles(tradeEngineLag),
    };
    send(report);
  } else if (message.type === "stop") {
    stopping = true;
    for (const sub of subs) sub.socket.destroy();
    process.exit(0);
  }
});
process.on("disconnect", () => process.exit(0));
send({ type: "loaded" });
