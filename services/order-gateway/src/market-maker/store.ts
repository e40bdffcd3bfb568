/**
 * PostgreSQL state of the market-maker sessions (og_mm_* tables of schema.ts), so that a session's
 * sequence numbers, its messages kept for resend and the orders it placed survive a gateway restart.
 *
 * Durability (see sessions.ts): ExecutionReports derived from engine events are written in the order
 * projection's own transaction, with the projection cursor — no commit of their own; if the batch
 * rolls back (or the process dies before the commit) the events are delivered again and the same
 * reports are derived again. Messages that do not come from engine events (Rejects of requests refused
 * before the engine) are group-committed. Either way a message is written to the client only once it
 * is durable, in sequence order.
 */
import { withTransaction } from "@excraft/platform";
import { ServerMessage } from "@excraft/proto";
import type pg from "pg";

export interface StoredSession {
  apiKey: string;
  accountId: string;
  sessionId: string;
  nextInbound: bigint;
  lastOutbound: bigint;
  cancelOnDisconnect: boolean;
}

export interface StoredOrder {
  orderId: bigint;
  apiKey: string;
  clOrdId: string;
  symbol: string;
  open: boolean;
}

/** What a session row is written from (its last_outbound: the highest message of the same write). */
export interface SessionState {
  apiKey: string;
  accountId: string;
  id: string;
  nextInbound: bigint;
  cancelOnDisconnect: boolean;
}

/** Rows one write changes. */
export class SessionChanges {
  /** Sessions whose row is written (api key → session). */
  readonly touched = new Map<string, SessionState>();
  readonly messages: { apiKey: string; message: ServerMessage }[] = [];
  readonly orders = new Map<bigint, StoredOrder>();
  /** api key → delete kept messages with seq_num ≤ this. */
  readonly trims = new Map<string, bigint>();

  get empty(): boolean {
    return this.touched.size === 0 && this.messages.length === 0 && this.orders.size === 0;
  }
}

type Queryable = Pick<pg.PoolClient, "query">;

export class MarketMakerStore {
  constructor(private readonly pool: pg.Pool) {}

  /** Every session, its last `keep` messages (by api key, in order) and its open orders. */
  async load(keep: number): Promise<{
    sessions: StoredSession[];
    messages: Map<string, ServerMessage[]>;
    orders: StoredOrder[];
  }> {
    const [sessions, messages, orders] = await Promise.all([
      this.pool.query(
        `select api_key, account_id, session_id, next_inbound::text, last_outbound::text, cancel_on_disconnect
           from og_mm_sessions`,
      ),
      this.pool.query<{ api_key: string; message: Buffer }>(
        `select m.api_key, m.message from og_mm_messages m join og_mm_sessions s using (api_key)
          where m.seq_num > s.last_outbound - $1 order by m.api_key, m.seq_num`,
        [keep],
      ),
      this.pool.query("select order_id::text, api_key, cl_ord_id, symbol, open from og_mm_orders where open"),
    ]);
    const byKey = new Map<string, ServerMessage[]>();
    for (const r of messages.rows) {
      const list = byKey.get(r.api_key) ?? [];
      if (list.length === 0) byKey.set(r.api_key, list);
      list.push(ServerMessage.decode(r.message));
    }
    return {
      sessions: sessions.rows.map((r) => ({
        apiKey: r.api_key,
        accountId: r.account_id,
        sessionId: r.session_id,
        nextInbound: BigInt(r.next_inbound),
        lastOutbound: BigInt(r.last_outbound),
        cancelOnDisconnect: r.cancel_on_disconnect,
      })),
      messages: byKey,
      orders: orders.rows.map((r) => ({
        orderId: BigInt(r.order_id),
        apiKey: r.api_key,
        clOrdId: r.cl_ord_id,
        symbol: r.symbol,
        open: r.open,
      })),
    };
  }

  /** One group commit of changes not tied to a projection batch. */
  async commit(c: SessionChanges): Promise<void> {
    await withTransaction(this.pool, (client) => this.write(client, c));
  }

  /**
   * Writes changes with `client` (inside the caller's transaction): one statement per table. Session
   * rows go in api-key order (the projection's transaction and a group commit may touch the same rows:
   * one lock order, no deadlock); last_outbound only grows.
   */
  async write(client: Queryable, c: SessionChanges): Promise<void> {
    if (c.touched.size > 0) {
      // last_outbound: only what this write makes durable (a number still in another write's flight
      // must not be claimed: it could be lost with that write).
      const last = new Map<string, bigint>();
      for (const { apiKey, message } of c.messages) {
        if (message.seqNum > (last.get(apiKey) ?? 0n)) last.set(apiKey, message.seqNum);
      }
      const rows = [...c.touched.values()]
        .map(
          (t): StoredSession => ({
            apiKey: t.apiKey,
            accountId: t.accountId,
            sessionId: t.id,
            nextInbound: t.nextInbound,
            lastOutbound: last.get(t.apiKey) ?? 0n,
            cancelOnDisconnect: t.cancelOnDisconnect,
          }),
        )
        .sort((a, b) => (a.apiKey < b.apiKey ? -1 : 1));
      await client.query(
        `insert into og_mm_sessions (api_key, account_id, session_id, next_inbound, last_outbound, cancel_on_disconnect)
         select * from unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::boolean[])
         on conflict (api_key) do update set next_inbound = excluded.next_inbound,
           last_outbound = greatest(og_mm_sessions.last_outbound, excluded.last_outbound),
           cancel_on_disconnect = excluded.cancel_on_disconnect, session_id = excluded.session_id`,
        [
          rows.map((r) => r.apiKey),
          rows.map((r) => r.accountId),
          rows.map((r) => r.sessionId),
          rows.map((r) => r.nextInbound.toString()),
          rows.map((r) => r.lastOutbound.toString()),
          rows.map((r) => r.cancelOnDisconnect),
        ],
      );
    }
    if (c.messages.length > 0) {
      await client.query(
        `insert into og_mm_messages (api_key, seq_num, message)
         select * from unnest($1::text[], $2::bigint[], $3::bytea[]) on conflict do nothing`,
        [
          c.messages.map((m) => m.apiKey),
          c.messages.map((m) => m.message.seqNum.toString()),
          c.messages.map((m) => Buffer.from(ServerMessage.encode(m.message).finish())),
        ],
      );
    }
    // Open orders are kept (reports and cancel-on-disconnect after a restart); finished ones dropped.
    const open = [...c.orders.values()].filter((r) => r.open);
    const done = [...c.orders.values()].filter((r) => !r.open);
    if (open.length > 0) {
      await client.query(
        `insert into og_mm_orders (order_id, api_key, cl_ord_id, symbol, open)
         select * from unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::boolean[])
         on conflict (order_id) do nothing`,
        [
          open.map((r) => r.orderId.toString()),
          open.map((r) => r.apiKey),
          open.map((r) => r.clOrdId),
          open.map((r) => r.symbol),
          open.map(() => true),
        ],
      );
    }
    if (done.length > 0) {
      await client.query("delete from og_mm_orders where order_id = any($1::bigint[])", [
        done.map((r) => r.orderId.toString()),
      ]);
    }
    if (c.trims.size > 0) {
      await client.query(
        `delete from og_mm_messages m using unnest($1::text[], $2::bigint[]) as u(k, s)
          where m.api_key = u.k and m.seq_num <= u.s`,
        [[...c.trims.keys()], [...c.trims.values()].map(String)],
      );
    }
  }
}
