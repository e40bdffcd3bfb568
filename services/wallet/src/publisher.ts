import type { EventLog } from "@excraft/eventlog";
import { LedgerEvent } from "@excraft/proto";
import type pg from "pg";
import { EXTERNAL_ACCOUNT } from "./state";

export const LEDGER_TOPIC = "ledger.v1";

/**
 * Publishes ledger.v1 from the journal (the journal is the outbox): entries after the stored
 * position, one LedgerEvent per (entry, account), key = account id, then the position moves on.
 * At-least-once: after a crash between publish and position update, events are published again
 * (consumers deduplicate by entry_id + account_id). `balances` carry the account's balances of the
 * assets the entry touched as of publication (for user data streams the latest state is what matters).
 */
export class LedgerPublisher {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;

  constructor(
    private readonly pool: pg.Pool,
    private readonly log: EventLog,
    /**
     * Highest entry id that is safe to publish: with pipelined batches a later entry id can commit
     * before an earlier one, so the publisher never reads past the writer's stable point.
     */
    private readonly stableEntryId: () => bigint = () => 1n << 62n,
    private readonly topic = LEDGER_TOPIC,
    private readonly name = "ledger.v1",
  ) {}

  /** Publishes up to `max` entries; returns how many entries were published. */
  publishOnce(max = 2_000): Promise<number> {
    this.running ??= this.run(max).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async run(max: number): Promise<number> {
    const pos = await this.pool.query("select last_entry_id from publisher_progress where name = $1", [
      this.name,
    ]);
    const after = BigInt(pos.rows[0]?.last_entry_id ?? 0);
    const rows = await this.pool.query(
      `select e.entry_id, e.source, e.time_ms, p.account_id, array_agg(distinct p.asset) as assets
       from (select * from journal_entries where entry_id > $1 and entry_id <= $4 order by entry_id limit $2) e
       join postings p on p.entry_id = e.entry_id and p.account_id <> $3
       group by e.entry_id, e.source, e.time_ms, p.account_id
       order by e.entry_id, p.account_id`,
      [after.toString(), max, EXTERNAL_ACCOUNT, this.stableEntryId().toString()],
    );
    if (rows.rows.length === 0) {
      const maxRow = await this.pool.query(
        "select max(entry_id) as m from (select entry_id from journal_entries where entry_id > $1 and entry_id <= $3 order by entry_id limit $2) x",
        [after.toString(), max, this.stableEntryId().toString()],
      );
      if (maxRow.rows[0].m !== null) await this.savePosition(BigInt(maxRow.rows[0].m));
      return 0;
    }
    const accounts = [...new Set(rows.rows.map((r) => r.account_id as string))];
    const balances = await this.pool.query(
      "select account_id, asset, free, locked from balances where account_id = any($1::text[])",
      [accounts],
    );
    const byKey = new Map<string, { free: bigint; locked: bigint }>();
    for (const b of balances.rows) {
      byKey.set(`${b.account_id}\u0000${b.asset}`, { free: BigInt(b.free), locked: BigInt(b.locked) });
    }
    const messages = rows.rows.map((r) => ({
      key: r.account_id as string,
      value: LedgerEvent.encode({
        entryId: String(r.entry_id),
        accountId: r.account_id,
        source: r.source,
        timeMs: BigInt(r.time_ms),
        balances: (r.assets as string[]).sort().map((asset) => {
          const b = byKey.get(`${r.account_id}\u0000${asset}`) ?? { free: 0n, locked: 0n };
          return { asset, free: b.free, locked: b.locked };
        }),
      }).finish(),
    }));
    await this.log.publish(this.topic, messages);
    const last = BigInt(rows.rows[rows.rows.length - 1].entry_id);
    await this.savePosition(last);
    return new Set(rows.rows.map((r) => String(r.entry_id))).size;
  }

  private async savePosition(entryId: bigint): Promise<void> {
    await this.pool.query(
      `insert into publisher_progress (name, last_entry_id) values ($1, $2)
       on conflict (name) do update set last_entry_id = greatest(publisher_progress.last_entry_id, excluded.last_entry_id)`,
      [this.name, entryId.toString()],
    );
  }

  /** Polls every `intervalMs` until stopped. */
  start(intervalMs = 100, onError?: (e: unknown) => void): void {
    const tick = async () => {
      try {
        while ((await this.publishOnce()) > 0) {}
      } catch (error) {
        onError?.(error);
      }
      if (this.timer) this.timer = setTimeout(tick, intervalMs);
    };
    this.timer = setTimeout(tick, intervalMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
