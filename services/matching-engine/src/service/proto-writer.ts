/**
 * A minimal protobuf writer for the engine's hot output path: numbers instead of bigints, no
 * message objects, one growing buffer, nested messages by reserving one length byte and widening it
 * in place when needed. The output is the canonical encoding — byte for byte what the generated
 * ts-proto codecs write for the same message (fields in number order, zero values omitted) —
 * which the engine's tests check event by event.
 */

const TWO_32 = 2 ** 32;
const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER);
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const utf8 = new TextEncoder();

/** The UTF-8 bytes of a string (for fields written many times, cached by the caller). */
export function utf8Bytes(s: string): Uint8Array {
  return utf8.encode(s);
}

export class ProtoWriter {
  buf: Uint8Array;
  pos = 0;

  constructor(initialSize = 64 * 1024) {
    this.buf = new Uint8Array(initialSize);
  }

  /** Makes room for `n` more bytes. */
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  /** An unsigned varint of an integer in 0..2^53-1. */
  varint(n: number): void {
    this.ensure(10);
    const buf = this.buf;
    let pos = this.pos;
    while (n >= TWO_32) {
      buf[pos++] = (n % 128) | 0x80;
      n = Math.floor(n / 128);
    }
    while (n > 0x7f) {
      buf[pos++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    buf[pos++] = n;
    this.pos = pos;
  }

  /** A varint field of a non-negative safe integer (uint32, uint64, int64, enum); omitted when 0. */
  uint(tag: number, n: number): void {
    if (n === 0) return;
    this.varint(tag);
    this.varint(n);
  }

  /** An int64 / uint64 field given as a bigint; omitted when 0. Throws outside the int64 range. */
  int64(tag: number, v: bigint): void {
    if (v === 0n) return;
    this.varint(tag);
    if (v > 0n && v <= MAX_SAFE_BIG) {
      this.varint(Number(v));
      return;
    }
    if (v < INT64_MIN || v > INT64_MAX) throw new RangeError(`${v} is outside the int64 range`);
    let u = BigInt.asUintN(64, v);
    this.ensure(10);
    while (u > 0x7fn) {
      this.buf[this.pos++] = Number(u & 0x7fn) | 0x80;
      u >>= 7n;
    }
    this.buf[this.pos++] = Number(u);
  }

  bool(tag: number, b: boolean): void {
    if (!b) return;
    this.varint(tag);
    this.buf[this.pos++] = 1;
  }

  /** A string field; omitted when empty. */
  string(tag: number, s: string): void {
    if (s === "") return;
    this.varint(tag);
    const length = s.length;
    if (length < 0x80) {
      // ASCII fast path: one length byte, one byte per character.
      this.ensure(length + 1);
      const buf = this.buf;
      let pos = this.pos + 1;
      let i = 0;
      for (; i < length; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[pos++] = c;
      }
      if (i === length) {
        buf[this.pos] = length;
        this.pos = pos;
        return;
      }
    }
    const bytes = utf8.encode(s);
    this.varint(bytes.length);
    this.raw(bytes);
  }

  /** A length-delimited field whose bytes are already encoded (a cached string); omitted when empty. */
  bytesField(tag: number, bytes: Uint8Array): void {
    const length = bytes.length;
    if (length === 0) return;
    this.varint(tag);
    this.varint(length);
    this.copy(bytes);
  }

  /** Copies bytes in; a loop for the short ones (cheaper than TypedArray.set there). */
  copy(bytes: Uint8Array): void {
    const length = bytes.length;
    this.ensure(length);
    if (length > 48) {
      this.buf.set(bytes, this.pos);
    } else {
      const buf = this.buf;
      const pos = this.pos;
      for (let i = 0; i < length; i++) buf[pos + i] = bytes[i]!;
    }
    this.pos += length;
  }

  raw(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  /** Starts a length-delimited field (a nested message); returns the mark for `join`. */
  fork(tag: number): number {
    this.varint(tag);
    this.ensure(1);
    return this.pos++;
  }

  /** Ends the nested message started at `mark`: writes its length, widening the prefix if needed. */
  join(mark: number): void {
    const length = this.pos - mark - 1;
    if (length < 0x80) {
      this.buf[mark] = length;
      return;
    }
    let width = 1;
    for (let n = length; n > 0x7f; n = Math.floor(n / 128)) width++;
    this.ensure(width - 1);
    this.buf.copyWithin(mark + width, mark + 1, this.pos);
    let n = length;
    let at = mark;
    while (n > 0x7f) {
      this.buf[at++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    this.buf[at] = n;
    this.pos += width - 1;
  }

  /** The bytes written; the writer starts over (keeping its buffer). */
  finish(): Uint8Array {
    const out = this.buf.slice(0, this.pos);
    this.pos = 0;
    return out;
  }
}
