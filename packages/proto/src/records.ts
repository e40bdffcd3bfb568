/**
 * The record format of the engine's output topics (ADR 10): every executions.v1 / marketdata.v1
 * record is an ExecutionEventBatch / MarketDataEventBatch of consecutive events of one shard. Every
 * consumer decodes records with these functions and deduplicates EACH EVENT by its header
 * (shard, sequence, epoch), never by record offset: a new leader re-publishes the same events in
 * differently cut records.
 *
 * Records written before ADR 10 hold one bare ExecutionEvent / MarketDataEvent. Field 9 is the
 * batch's and is reserved in the event messages, so the two formats never parse as each other:
 * such a record decodes as a batch of one.
 */
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import type { EventHeader } from "./gen/excraft/v1/common";
import { ExecutionEvent, ExecutionEventBatch } from "./gen/excraft/v1/executions";
import { MarketDataEvent, MarketDataEventBatch } from "./gen/excraft/v1/marketdata";

/** Field number of `events` in ExecutionEventBatch and MarketDataEventBatch. */
export const EVENT_BATCH_FIELD = 9;
/** The tag byte that starts every event of a batch record (field 9, length-delimited). */
export const EVENT_BATCH_TAG = (EVENT_BATCH_FIELD << 3) | WireType.LengthDelimited;

/** An event as consumers get it: the header is always present. */
export type RecordedExecutionEvent = ExecutionEvent & { header: EventHeader };
export type RecordedMarketDataEvent = MarketDataEvent & { header: EventHeader };

/** A record that is not an event batch (or legacy single event) with a header on every event. */
export class MalformedEventRecordError extends Error {
  override name = "MalformedEventRecordError";
}

/**
 * The events of one executions.v1 record, in order. Throws MalformedEventRecordError for a record
 * that does not decode, holds no event, or holds an event without a header: the whole record is
 * then unusable (a consumer counts it and skips it, as it did single malformed events).
 */
export function decodeExecutionRecord(value: Uint8Array): RecordedExecutionEvent[] {
  return decodeRecord(value, ExecutionEventBatch.decode, ExecutionEvent.decode, "executions.v1");
}

/** The events of one marketdata.v1 record, in order; errors as decodeExecutionRecord. */
export function decodeMarketDataRecord(value: Uint8Array): RecordedMarketDataEvent[] {
  return decodeRecord(value, MarketDataEventBatch.decode, MarketDataEvent.decode, "marketdata.v1");
}

/** One executions.v1 record holding `events` (tests and tools; the engine frames its own bytes). */
export function encodeExecutionRecord(events: ExecutionEvent[]): Uint8Array {
  return ExecutionEventBatch.encode({ events }).finish();
}

/** One marketdata.v1 record holding `events`. */
export function encodeMarketDataRecord(events: MarketDataEvent[]): Uint8Array {
  return MarketDataEventBatch.encode({ events }).finish();
}

/**
 * The encoded bytes of each event of a record, without decoding them (views into `value`): what
 * the determinism checks compare, event by event. A legacy single-event record is one event.
 */
export function eventPayloads(value: Uint8Array): Uint8Array[] {
  if (value.length === 0 || value[0] !== EVENT_BATCH_TAG) return [value];
  const reader = new BinaryReader(value);
  const out: Uint8Array[] = [];
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    if (tag !== EVENT_BATCH_TAG) {
      reader.skip(tag & 7);
      continue;
    }
    out.push(reader.bytes());
  }
  return out;
}

function decodeRecord<E extends { header: EventHeader | undefined }>(
  value: Uint8Array,
  decodeBatch: (value: Uint8Array) => { events: E[] },
  decodeOne: (value: Uint8Array) => E,
  topic: string,
): (E & { header: EventHeader })[] {
  let events: E[];
  try {
    events = decodeBatch(value).events;
    // A pre-ADR-10 record: one bare event (none of its fields is the batch's field 9).
    if (events.length === 0 && value.length > 0) events = [decodeOne(value)];
  } catch (error) {
    throw new MalformedEventRecordError(`${topic} record does not decode: ${describe(error)}`, {
      cause: error,
    });
  }
  if (events.length === 0) throw new MalformedEventRecordError(`${topic} record holds no event`);
  for (const event of events) {
    if (event.header === undefined) throw new MalformedEventRecordError(`${topic} event has no header`);
  }
  return events as (E & { header: EventHeader })[];
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
