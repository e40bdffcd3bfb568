import { ExecutionEvent, MarketDataEvent, OrderCommand } from "@excraft/proto";
import { describe, expect, it } from "vitest";
import { type OutputEvent, ShardProcessor } from "../src/service/shard-processor.ts";
import { encodeCommands, generateCommands } from "./support/command-stream.ts";

function run(
  processor: ShardProcessor,
  payloads: Uint8Array[],
  from = 0,
): { exec: OutputEvent[]; md: OutputEvent[] } {
  const exec: OutputEvent[] = [];
  const md: OutputEvent[] = [];
  for (let i = from; i < payloads.length; i++) {
    processor.apply(BigInt(i), payloads[i]!);
    const out = processor.drain();
    exec.push(...out.executions);
    md.push(...out.marketData);
  }
  return { exec, md };
}

const bytesOf = (events: OutputEvent[]) => events.map((e) => Buffer.from(e.value).toString("hex"));

describe("ShardProcessor", () => {
  const payloads = encodeCommands(generateCommands(6_000, 7));

  it("is deterministic: the same input log gives byte-identical output", () => {
    const a = run(new ShardProcessor({ shard: 0, epoch: 1n }), payloads);
    const b = run(new ShardProcessor({ shard: 0, epoch: 1n }), payloads);
    expect(a.exec.length).toBeGreaterThan(6_000);
    expect(bytesOf(a.exec)).toEqual(bytesOf(b.exec));
    expect(bytesOf(a.md)).toEqual(bytesOf(b.md));
    const trades = a.exec
      .map((e) => ExecutionEvent.decode(e.value))
      .filter((e) => e.event?.$case === "trade");
    expect(trades.length).toBeGreaterThan(100);
  });

  it("numbers each output stream contiguously and stamps shard, epoch, command and offset", () => {
    const { exec, md } = run(new ShardProcessor({ shard: 3, epoch: 9n }), payloads.slice(0, 500));
    const execEvents = exec.map((e) => ExecutionEvent.decode(e.value));
    execEvents.forEach((e, i) => {
      expect(e.header?.sequence).toBe(BigInt(i + 1));
      expect(e.header?.shard).toBe(3);
      expect(e.header?.epoch).toBe(9n);
    });
    md.map((e) => MarketDataEvent.decode(e.value)).forEach((e, i) => {
      expect(e.header?.sequence).toBe(BigInt(i + 1));
    });
    const placed = execEvents.find((e) => e.event?.$case === "accepted")!;
    const source = OrderCommand.decode(payloads[Number(placed.header!.inputOffset)]!);
    expect(placed.header?.commandId).toBe(source.commandId);
  });

  it("continues identically after a snapshot is restored (and ignores already-applied offsets)", () => {
    const whole = run(new ShardProcessor({ shard: 0, epoch: 1n }), payloads);
    const first = new ShardProcessor({ shard: 0, epoch: 1n });
    const head = run(first, payloads.slice(0, 2_500));
    const state = JSON.parse(JSON.stringify(first.state()));
    const second = new ShardProcessor({ shard: 0, epoch: 1n }, state);
    const tail = run(second, payloads); // offsets < 2500 are skipped as replays
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
    const malformed = processor.drain().executions.map((e) => ExecutionEvent.decode(e.value));
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
    const rejected = processor.drain().executions.map((e) => ExecutionEvent.decode(e.value));
    expect(rejected[0]?.event?.$case === "rejected" && rejected[0].event.value.reason).toBe(
      "INVALID_COMMAND",
    );
    expect(rejected[0]?.event?.$case === "rejected" && rejected[0].event.value.order?.accountId).toBe(
      "acct-1",
    );
    expect(JSON.stringify(processor.state().engine)).toBe(before);
  });
});
