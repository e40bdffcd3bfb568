import { describe, expect, it } from "vitest";
import {
  type ExecutionEvent,
  ExecutionEventBatch,
  ExecutionEvent as ExecutionEventCodec,
  type MarketDataEvent,
  MarketDataEvent as MarketDataEventCodec,
} from "../src/index";
import {
  decodeExecutionRecord,
  decodeMarketDataRecord,
  EVENT_BATCH_TAG,
  encodeExecutionRecord,
  encodeMarketDataRecord,
  eventPayloads,
  MalformedEventRecordError,
} from "../src/records";

const header = (sequence: bigint) => ({
  shard: 1,
  sequence,
  epoch: 3n,
  timeMs: 1_700_000_000_000n,
  commandId: `c-${sequence}`,
  inputOffset: sequence * 2n,
});

const accepted = (sequence: bigint): ExecutionEvent =>
  ExecutionEventCodec.fromPartial({
    header: header(sequence),
    symbol: "BTCUSDT",
    event: { $case: "accepted", value: { order: { orderId: sequence, accountId: "acct-1", price: 100n } } },
  });

const depth = (sequence: bigint): MarketDataEvent =>
  MarketDataEventCodec.fromPartial({
    header: header(sequence),
    symbol: "ETHUSDT",
    event: {
      $case: "depth",
      value: { firstUpdateId: sequence, lastUpdateId: sequence, bids: [{ price: 5n }] },
    },
  });

// The record format of executions.v1 and marketdata.v1 (ADR 10).
describe("event records", () => {
  it("round-trips batches of events in order", () => {
    const events = [1n, 2n, 3n].map(accepted);
    const record = encodeExecutionRecord(events);
    expect(record[0]).toBe(EVENT_BATCH_TAG);
    expect(decodeExecutionRecord(record)).toEqual(events);
    const md = [7n, 8n].map(depth);
    expect(decodeMarketDataRecord(encodeMarketDataRecord(md))).toEqual(md);
  });

  it("reads a record written before batching (one bare event) as a batch of one", () => {
    const legacy = ExecutionEventCodec.encode(accepted(9n)).finish();
    expect(decodeExecutionRecord(legacy)).toEqual([accepted(9n)]);
    expect(eventPayloads(legacy)).toEqual([legacy]);
    const legacyDepth = MarketDataEventCodec.encode(depth(4n)).finish();
    expect(decodeMarketDataRecord(legacyDepth)).toEqual([depth(4n)]);
  });

  it("never mistakes one format for the other", () => {
    // A batch parsed as a bare event has no header; a bare event parsed as a batch has no events.
    const batch = encodeExecutionRecord([accepted(1n)]);
    expect(ExecutionEventCodec.decode(batch).header).toBeUndefined();
    expect(ExecutionEventBatch.decode(ExecutionEventCodec.encode(accepted(1n)).finish()).events).toEqual([]);
  });

  it("gives each event's own bytes without decoding", () => {
    const events = [1n, 2n].map(accepted);
    const payloads = eventPayloads(encodeExecutionRecord(events));
    expect(payloads.map((p) => ExecutionEventCodec.decode(p))).toEqual(events);
    expect(payloads.map((p) => [...p])).toEqual(
      events.map((e) => [...ExecutionEventCodec.encode(e).finish()]),
    );
  });

  it("rejects a record that does not decode, is empty, or holds an event without a header", () => {
    expect(() => decodeExecutionRecord(Uint8Array.from([0xff, 0xff, 0xff]))).toThrow(
      MalformedEventRecordError,
    );
    expect(() => decodeExecutionRecord(new Uint8Array())).toThrow(MalformedEventRecordError);
    const headless = encodeExecutionRecord([accepted(1n), { ...accepted(2n), header: undefined }]);
    expect(() => decodeExecutionRecord(headless)).toThrow(/no header/);
    expect(() => decodeMarketDataRecord(Uint8Array.from([0x4a, 0x05, 0x01]))).toThrow(
      MalformedEventRecordError,
    );
  });
});
