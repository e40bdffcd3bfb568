/** Reads a shard's executions.v1 back and collapses it the way a consumer must. */
import type { EventLog } from "@excraft/eventlog";
import { ExecutionEvent } from "@excraft/proto";
import { decodeExecutionRecord, eventPayloads } from "@excraft/proto/records";

/**
 * A consumer's view of one shard's executions.v1: decode each record into its events (ADR 10),
 * then per event drop an older epoch than one already seen, drop sequences already seen, and count
 * gaps (which must never happen). Events are kept encoded with the epoch zeroed, so they compare
 * byte for byte with an uninterrupted run however the records were cut.
 */
export class ExecutionCollapser {
  readonly events: string[] = [];
  records = 0;
  duplicates = 0;
  staleEpoch = 0;
  gaps = 0;
  readonly epochs = new Set<bigint>();
  /** orders.v1 offset of the newest accepted event (how far the consumer has seen the engine get). */
  inputOffset = -1n;
  private epoch = 0n;
  private sequence = 0n;

  accept(value: Uint8Array): void {
    this.records++;
    for (const event of decodeExecutionRecord(value)) this.acceptEvent(event);
  }

  private acceptEvent(event: ExecutionEvent): void {
    const header = event.header!;
    this.epochs.add(header.epoch);
    if (header.epoch < this.epoch) {
      this.staleEpoch++;
      return;
    }
    this.epoch = header.epoch;
    if (header.sequence <= this.sequence) {
      this.duplicates++;
      return;
    }
    if (header.sequence !== this.sequence + 1n) this.gaps++;
    this.sequence = header.sequence;
    this.inputOffset = header.inputOffset;
    header.epoch = 0n;
    this.events.push(Buffer.from(ExecutionEvent.encode(event).finish()).toString("hex"));
  }
}

/**
 * What an uninterrupted run emits, comparable with a collapse: the raw bytes of each event of
 * `records`, in order. Records of a processor created with epoch 0 (an encoded header omits a zero
 * epoch, just as a collapsed event's re-encoding does).
 */
export function referenceEvents(records: { value: Uint8Array }[]): string[] {
  return records.flatMap((record) =>
    eventPayloads(record.value).map((event) => Buffer.from(event).toString("hex")),
  );
}

export async function collapseExecutions(log: EventLog, shard: number): Promise<ExecutionCollapser> {
  const end = await log.endOffset("executions.v1", shard);
  const reader = await log.openReader({ topic: "executions.v1", partition: shard, offset: 0n });
  const collapser = new ExecutionCollapser();
  try {
    while (reader.position() < end) {
      for (const record of await reader.read({ maxRecords: 5_000, maxWaitMs: 200 }))
        collapser.accept(record.value);
    }
  } finally {
    await reader.close();
  }
  return collapser;
}
