import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { describe, expect, it } from "vitest";
import { ProtoWriter } from "../src/service/proto-writer.ts";

/** ProtoWriter must write what @bufbuild/protobuf's BinaryWriter (used by ts-proto) writes. */
describe("ProtoWriter", () => {
  const same = (mine: ProtoWriter, theirs: BinaryWriter) =>
    expect(Buffer.from(mine.finish()).toString("hex")).toBe(Buffer.from(theirs.finish()).toString("hex"));

  it("writes varints of every width up to 2^53 - 1 like BinaryWriter", () => {
    const values = [
      1,
      127,
      128,
      255,
      16_383,
      16_384,
      2 ** 31 - 1,
      2 ** 31,
      2 ** 32 - 1,
      2 ** 32,
      2 ** 35 + 7,
    ];
    values.push(2 ** 49 + 3, Number.MAX_SAFE_INTEGER);
    for (const n of values) {
      const mine = new ProtoWriter(4);
      mine.uint(0x10, n);
      same(mine, new BinaryWriter().uint32(0x10).uint64(BigInt(n)));
    }
    const zero = new ProtoWriter();
    zero.uint(0x10, 0);
    expect(zero.finish()).toHaveLength(0);
  });

  it("writes int64 bigints, negative ones as 10 bytes, and refuses values beyond int64", () => {
    for (const v of [1n, 2n ** 53n + 1n, 2n ** 63n - 1n, -1n, -5n, -(2n ** 63n)]) {
      const mine = new ProtoWriter(2);
      mine.int64(0x20, v);
      same(mine, new BinaryWriter().uint32(0x20).int64(v));
    }
    expect(() => new ProtoWriter().int64(0x20, 2n ** 63n)).toThrow(RangeError);
  });

  it("writes ASCII, non-ASCII and long strings, and nested messages of any length", () => {
    for (const s of ["BTCUSDT", "ordre-été-日本", "x".repeat(127), "x".repeat(128), "é".repeat(100), "🚀"]) {
      const mine = new ProtoWriter(8);
      mine.string(0x1a, s);
      same(mine, new BinaryWriter().uint32(0x1a).string(s));
    }
    for (const length of [0, 5, 127, 128, 16_383, 16_384, 70_000]) {
      const payload = "y".repeat(length);
      const mine = new ProtoWriter(16);
      const outer = mine.fork(0x0a);
      mine.uint(0x08, 7);
      const inner = mine.fork(0x12);
      mine.string(0x0a, payload);
      mine.join(inner);
      mine.bool(0x18, true);
      mine.join(outer);
      const theirs = new BinaryWriter();
      theirs.uint32(0x0a).fork().uint32(0x08).uint32(7).uint32(0x12).fork();
      if (length > 0) theirs.uint32(0x0a).string(payload);
      theirs.join().uint32(0x18).bool(true).join();
      same(mine, theirs);
    }
  });

  it("writes cached bytes fields, short and long", () => {
    for (const length of [1, 48, 49, 300]) {
      const bytes = Uint8Array.from({ length }, (_, i) => i & 0xff);
      const mine = new ProtoWriter(4);
      mine.bytesField(0x12, bytes);
      same(mine, new BinaryWriter().uint32(0x12).bytes(bytes));
    }
  });
});
