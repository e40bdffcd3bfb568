import type { EventLog, Subscription } from "@excraft/eventlog";
import type { ExecutionEvent } from "@excraft/proto";
import { decodeExecutionRecord } from "@excraft/proto/records";
import type { Ledger } from "./ledger";

export const EXECUTIONS_TOPIC = "executions.v1";

export interface ExecutionsConsumerOptions {
  topic?: string;
  groupId?: string;
  onError?: (error: unknown) => void;
  /** Called after each batch is settled and committed. */
  onSettled?: (info: { partition: number; lastOffset: bigint; applied: number; skipped: number }) => void;
  /** Called for a record that does not decode as an executions.v1 event batch (it is skipped). */
  onMalformed?: (info: { partition: number; offset: bigint; error: unknown }) => void;
}

/**
 * Settles executions.v1. Each batch of a partition is decoded and applied to the ledger as ONE
 * command: the ledger writes the settlement and the (shard, epoch, sequence) progress in one
 * transaction, so whatever the EventLog redelivers after a crash (it commits offsets only after the
 * handler resolved, at-least-once) is recognised by sequence and skipped: exactly-once effects.
 */
export async function startExecutionsConsumer(
  log: EventLog,
  ledger: Ledger,
  options: ExecutionsConsumerOptions = {},
): Promise<Subscription> {
  const topic = options.topic ?? EXECUTIONS_TOPIC;
  return log.subscribe({
    topics: [topic],
    groupId: options.groupId ?? "wallet",
    fromBeginning: true,
    maxBatchRecords: 500,
    ...(options.onError ? { onError: (e: unknown) => options.onError?.(e) } : {}),
    async eachBatch(batch) {
      const events: ExecutionEvent[] = [];
      for (const record of batch.records) {
        try {
          // A record holds many events (ADR 10); the ledger deduplicates each by its own sequence.
          for (const ev of decodeExecutionRecord(record.value)) events.push(ev);
        } catch (error) {
          options.onMalformed?.({ partition: batch.partition, offset: record.offset, error });
        }
      }
      const result =
        events.length > 0 ? await ledger.applyExecutions(topic, events) : { applied: 0, skipped: 0 };
      options.onSettled?.({
        partition: batch.partition,
        lastOffset: batch.records[batch.records.length - 1]!.offset,
        ...result,
      });
    },
  });
}
