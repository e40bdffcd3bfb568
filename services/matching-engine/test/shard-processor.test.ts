import { createHash } from "node:crypto";
import {
  ExecutionEvent,
  ExecutionEventBatch,
  MarketDataEvent,
  MarketDataEventBatch,
  OrderCommand,
} from "@excraft/proto";
import { decodeExecutionRecord, decodeMarketDataRecord, eventPayloads } from "@excraft/proto/records";
import { describe, expect, it } from "vitest";
import { type OutputRecord, ShardProcessor } from "../src/service/shard-processor.ts";
import { encodeCommands, generateCommands } from "./support/command-stream.ts";
import { coverageCommands } from "./support/coverage-commands.ts";

/** Applies payloads[from..], draining the output records every `drainEvery` commands. */
function run(
  processor: ShardProcessor,
  payloads: Uint8Array[],
  from = 0,
  drainEvery = 1,
): { exec: OutputRecord[]; md: OutputRecord[] } {
  const exec: OutputRecord[] = [];
  const md: OutputRecord[] = [];
  for (let i = from; i < payloads.length; i++) {
    processor.apply(BigInt(i), payloads[i]!);
    if ((i + 1 - from) % drainEvery !== 0 && i !== payloads.length - 1) continue;
    const out = processor.drain();
    exec.push(...out.executions);
    md.push(...out.marketData);
  }
  return { exec, md };
}

/** The raw bytes of every event of the records, in order: the determinism check's unit. */
const bytesOf = (records: OutputRecord[]) =>
  records.flatMap((r) => eventPayloads(r.value).map((e) => Buffer.from(e).toString("hex")));
const digest = (records: OutputRecord[]) => {
  const hash = createHash("sha256");
  for (const record of records) for (const event of eventPayloads(record.value)) hash.update(event);
  return hash.digest("hex");
};
const executions = (records: OutputRecord[]) => records.flatMap((r) => decodeExecutionRecord(r.value));
const marketData = (records: OutputRecord[]) => records.flatMap((r) => decodeMarketDataRecord(r.value));

describe("ShardProcessor", () => {
  const payloads = encodeCommands(generateCommands(6_000, 7));

  it("is deterministic: the same input log gives byte-identical output", () => {
    const a = run(new ShardProcessor({ shard: 0, epoch: 1n }), payloads);
    const b = run(new ShardProcessor({ shard: 0, epoch: 1n }), payloads);
    expect(bytesOf(a.exec).length).toBeGreaterThan(6_000);
    expect(bytesOf(a.exec)).toEqual(bytesOf(b.exec));
    expect(bytesOf(a.md)).toEqual(bytesOf(b.md));
    // Drained at the same points, even the records are identical.
    expect(a.exec.map((r) => Buffer.from(r.value).toString("hex"))).toEqual(
      b.exec.map((r) => Buffer.from(r.value).toString("hex")),
    );
    const trades = executions(a.exec).filter((e) => e.event?.$case === "trade");
    expect(trades.length).toBeGreaterThan(100);
  });

  it("cuts records wherever it is drained, with the same events byte for byte (ADR 10)", () => {
    const single = run(new ShardProcessor({ shard: 0, epoch: 1n }), payloads);
    const batched = run(new ShardProcessor({ shard: 0, epoch: 1n }), payloads, 0, 700);
    const small = run(new ShardProcessor({ shard: 0, epoch: 1n, maxRecordBytes: 4_096 }), payloads, 0, 700);
    expect(batched.exec.length).toBeLessThan(20);
    expect(small.exec.length).toBeGreaterThan(batched.exec.length * 5);
    for (const out of [batched, small]) {
      expect(bytesOf(out.exec)).toEqual(bytesOf(single.exec));
      expect(bytesOf(out.md)).toEqual(bytesOf(single.md));
    }
    // The size limit is soft: a record closes with the event that crosses it.
    for (const record of small.exec) {
      const events = eventPayloads(record.value);
      expect(record.events).toBe(events.length);
      expect(record.value.length - events.at(-1)!.length - 3).toBeLessThan(4_096);
    }
    // The framing is exactly the generated ExecutionEventBatch / MarketDataEventBatch encoding.
    for (const record of batched.exec) {
      const decoded = ExecutionEventBatch.decode(record.value);
      expect(decoded.events).toHaveLength(record.events);
      expect(ExecutionEventBatch.encode(decoded).finish()).toEqual(record.value);
    }
    for (const record of batched.md) {
      expect(MarketDataEventBatch.encode(MarketDataEventBatch.decode(record.value)).finish()).toEqual(
        record.value,
      );
    }
    const processor = new ShardProcessor({ shard: 0, epoch: 1n });
    expect(processor.drain()).toEqual({ executions: [], marketData: [] });
  });

  it("writes every event in the canonical encoding of the generated codecs", () => {
    // The stream of every event kind and encoding corner (long, non-ASCII, 2^53+, negative int64,
    // a 3-byte length prefix): decoding each event and re-encoding it with ts-proto gives its bytes.
    const { exec, md } = run(new ShardProcessor({ shard: 2, epoch: 5n }), coverageCommands(), 0, 500);
    const kinds = new Set<string>();
    for (const record of exec) {
      for (const bytes of eventPayloads(record.value)) {
        const event = ExecutionEvent.decode(bytes);
        kinds.add(`${event.event?.$case}`);
        expect(Buffer.from(ExecutionEvent.encode(event).finish()).equals(bytes)).toBe(true);
      }
    }
    let largest = 0;
    for (const record of md) {
      for (const bytes of eventPayloads(record.value)) {
        largest = Math.max(largest, bytes.length);
        expect(
          Buffer.from(MarketDataEvent.encode(MarketDataEvent.decode(bytes)).finish()).equals(bytes),
        ).toBe(true);
      }
    }
    expect([...kinds].sort()).toEqual(
      [
        "accepted",
        "cancelled",
        "expired",
        "marketChanged",
        "rejected",
        "replaced",
        "trade",
        "triggered",
      ].sort(),
    );
    expect(largest).toBeGreaterThan(16_384);
    const times = executions(exec).map((e) => e.header.timeMs);
    expect(times).toContain(-5n);
    expect(times).toContain(2n ** 62n);
  });

  it("emits exactly the pinned output for two fixed input logs (any change to it is a format change)", () => {
    // Digests of the raw event bytes, recorded with the generated ts-proto encoders before the
    // engine wrote its own bytes (ADR 10). Update them only for an intended output change.
    const generated = run(
      new ShardProcessor({ shard: 2, epoch: 5n }),
      encodeCommands(generateCommands(6_000, 7)),
      0,
      1_000,
    );
    expect(digest(generated.exec)).toBe("e72ce53c47910521e63dc707f9731147d6ceeee5a40105e52b7c616994c72138");
    expect(digest(generated.md)).toBe("3b999c7bddeb6b2a34be9098fb2f596eb6411107f66e54d0cf1ebb73f40fbd3d");
    const coverage = run(new ShardProcessor({ shard: 2, epoch: 5n }), coverageCommands(), 0, 1_000);
    expect(digest(coverage.exec)).toBe("e0a6f41cb80d426d7f2efbce6dac328ca28745389f162b454afcaea2dd4ec36d");
    expect(digest(coverage.md)).toBe("1c44afcfe13c039c88f72b4d4911c66f8933b7ca3de2346fbf90f09172294097");
  });

  it("numbers each output stream contiguously and stamps shard, epoch, command and offset", () => {
    const { exec, md } = run(new ShardProcessor({ shard: 3, epoch: 9n }), payloads.slice(0, 500), 0, 64);
    const execEvents = executions(exec);
    execEvents.forEach((e, i) => {
      expect(e.header?.sequence).toBe(BigInt(i + 1));
      expect(e.header?.shard).toBe(3);
      expect(e.header?.epoch).toBe(9n);
    });
    marketData(md).forEach((e, i) => {
      expect(e.header?.sequence).toBe(BigInt(i + 1));
    });
    const placed = execEvents.find((e) => e.event?.$case === "accepted")!;
    const source = OrderCommand.decode(payloads[Number(placed.header!.inputOffset)]!);
    expect(placed.header?.commandId).toBe(source.commandId);
  });

  it("continues identically after a snapshot is restored (and ignores already-applied offsets)", () => {
    const whole = run(new ShardProcessor({ shard: 0, epoch: 1n }), payloads);
    const first = new ShardProcessor({ shard: 0, epoch: 1n });
    const head = run(first, payloads.slice(0, 2_500), 0, 300);
    const state = JSON.parse(JSON.stringify(first.state()));
    const second = new ShardProcessor({ shard: 0, epoch: 1n }, state);
    const tail = run(second, payloads, 0, 450); // offsets < 2500 are skipped as replays
    expect(bytesOf([...head.exec, ...tail.exec])).toEqual(bytesOf(whole.exec));
    expect(bytesOf([...head.md, ...tail.md])).toEqual(bytesOf(whole.md));
  });

  it("drops a re-delivered command id and rejects malformed or out-of-range commands without state change", () => {
    const processor = new ShardProcessor({ shard: 0, epoch: 1n });
    run(processor, payloads.slice(0, 100));
    const before = JSON.stringify(processor.state().engine);
    processor.apply(100n, payloads[50]!); // same command id again, at a new offset
    expect(processor.drain().executions).toHaveLength(0);
    expect(processor.duplicatesDropped).toBe(1);

    processor.apply(101n, Uint8Array.from([0xff, 0xff, 0xff]));
    const malformed = executions(processor.drain().executions);
    expect(malformed).toHaveLength(1);
    expect(malformed[0]?.event?.$case === "rejected" && malformed[0].event.value.reason).toBe(
      "MALFORMED_COMMAND",
    );

    const huge = OrderCommand.encode({
      commandId: "huge",
      timeMs: 1n,
      symbol: "BTCUSDT",
      command: {
        $case: "place",
        value: {
          orderId: 2n ** 60n,
          accountId: "acct-1",
          clientOrderId: "",
          side: 1,
          type: 1,
          timeInForce: 1,
          price: 10_000n,
          quantity: 1n,
          quoteOrderQty: 0n,
          stopPrice: 0n,
          selfTradePrevention: 0,
          reserved: 0n,
        },
      },
    }).finish();
    processor.apply(102n, huge);
    const rejected = executions(processor.drain().executions);
    expect(rejected[0]?.event?.$case === "rejected" && rejected[0].event.value.reason).toBe(
      "INVALID_COMMAND",
    );
    expect(rejected[0]?.event?.$case === "rejected" && rejected[0].event.value.order?.accountId).toBe(
      "acct-1",
    );
    expect(JSON.stringify(processor.state().engine)).toBe(before);
  });
});
