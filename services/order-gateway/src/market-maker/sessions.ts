/**
 * The FIX-like market-maker session (`excraft.v1.MarketMaker/Session`, one bidirectional stream per
 * connection) on top of the order core shared with REST (`OrderEntry`: validation, Wallet.Reserve,
 * orders.v1, engine answers) and the order projection (ExecutionReports from executions.v1 once durable).
 *
 * A session is identified by its API key and outlives its connections and gateway restarts: inbound
 * MsgSeqNum must be last+1 (otherwise SequenceGap, message not processed; a Logon with seq_num 1 starts
 * inbound numbering again); ExecutionReports and Rejects are numbered and kept (`keepMessages`) so a
 * ResendRequest or Logon.last_received_seq_num resends them with their original numbers. LogonAck,
 * Heartbeat and SequenceGap are session-level: seq_num 0, not kept.
 *
 * NewOrderSingles are pipelined: up to `maxInFlight` per connection are validated, reserved and made
 * durable concurrently (so the group commits of the reservation, the wallet and the event log see
 * them together), but each order is published, or refused, only after the session's previous one
 * was: the engine sees a session's orders in message order and its reports come in that order. A
 * ClOrdID is claimed when its message is taken in; a later message with the same ClOrdID waits for
 * that order's outcome. Every other message waits until the orders before it are done.
 *
 * Persistence (og_mm_* tables, store.ts): a sequenced message is written to the client only once it
 * is durable, in sequence order. ExecutionReports come from engine events and are derived inside the
 * order projection's transaction (`participant`), so they commit with the projection cursor — no
 * commit of their own on the hot path; a rolled-back or lost batch is delivered again and yields the
 * same reports with the same numbers. Rejects of requests refused before the engine, and the session
 * rows at logon, are group-committed. The orders a session placed are recorded when their first
 * engine event is projected; the command id carries the session id (`og-<order>-s-<session>`), so an
 * order published just before a crash is still attributed to its session when its events are
 * projected after the restart — and if that session chose cancel-on-disconnect and has not logged on
 * since, such an adopted order is cancelled like its other orders were at start. Inbound numbering is written with every write of the session (and at
 * close): after a crash it may lag, so a session restored from the database accepts a Logon with any
 * seq_num from the stored one on.
 */
import type { Logger } from "@excraft/platform";
import {
  type ClientMessage,
  type ExecutionEvent,
  type ExecutionReport,
  type Logon,
  MarketMakerService,
  type MarketSpec,
  type NewOrderSingle,
  type OrderCancelReplaceRequest,
  type OrderCancelRequest,
  type OrderMassCancelRequest,
  type OrderState,
  type ServerMessage,
} from "@excraft/proto";
import type { ServerDuplexStream } from "@grpc/grpc-js";
import { Counter, Gauge, type Registry } from "prom-client";
import { SYMBOL_PATTERN } from "../errors.ts";
import { price as priceText, qty as qtyText } from "../format.ts";
import { checkPrice, checkQty, validateOrder } from "../http/order-routes.ts";
import { API_KEY_PATTERN, type ApiKeyStore, randomToken, signatureMatches } from "../keys/api-keys.ts";
import type { MarketRegistry } from "../markets.ts";
import type { EngineOrdersPort } from "../orders/backends.ts";
import { filterFailure, type OrderEntry } from "../orders/order-entry.ts";
import type { ProjectionParticipant } from "../orders/projection.ts";
import { OrderQueries } from "../orders/queries.ts";
import { parseDecimal } from "../orders/units.ts";
import { detail, ExecType, errorDetailOf, isOpenStatus, ordStatusOf, paramsOf } from "./fix.ts";
import { MarketMakerStore, SessionChanges } from "./store.ts";

export interface MarketMakerOptions {
  entry: OrderEntry;
  keys: ApiKeyStore;
  markets: MarketRegistry;
  /** MatchingEngine.GetOrder: the live state a cancel-replace starts from. */
  engine: EngineOrdersPort;
  pool: import("pg").Pool;
  logger: Logger;
  /** Registry for the market-maker instruments (the process's platform registry). */
  registry?: Registry;
  /** A Logon's timestamp_ms may be at most this old (and at most 1 s ahead); default 5 000 ms. */
  logonWindowMs?: number;
  /** Outbound messages kept per session for resend (default 10 000). */
  keepMessages?: number;
  /** Server heartbeat interval per connection (default 30 000 ms; 0 = only answers). */
  heartbeatIntervalMs?: number;
  /** NewOrderSingles processed concurrently per connection (default 256). */
  maxInFlight?: number;
  now?: () => number;
}

type Call = ServerDuplexStream<ClientMessage, ServerMessage>;
type Body = NonNullable<ServerMessage["body"]>;

interface OwnedOrder {
  orderId: bigint;
  clOrdId: string;
  symbol: string;
  open: boolean;
}

interface Connection {
  call: Call;
  session: Session | undefined;
  /** Messages taken in, one at a time in arrival order. */
  chain: Promise<void>;
  /** NewOrderSingles taken in and not finished. */
  inflight: Set<Promise<void>>;
  /** Messages received and not yet taken in (the stream is paused above a limit). */
  queued: number;
  paused: boolean;
  closed: boolean;
  heartbeat?: NodeJS.Timeout;
}

/** A logical session (one API key): sequence numbers, kept messages, the orders it placed. */
class Session {
  nextInbound = 1n;
  lastOutbound = 0n;
  kept: ServerMessage[] = [];
  /** Sequenced messages not written to the client yet: each goes once durable, in sequence order. */
  outbox: ServerMessage[] = [];
  /** Sequence numbers in `outbox` that are durable. */
  readonly durable = new Set<bigint>();
  /** Loaded from the database and not logged on since (inbound numbering may lag: see logon). */
  restored = false;
  /** Kept messages up to here were deleted from og_mm_messages. */
  trimmedTo = 0n;
  connection: Connection | undefined;
  cancelOnDisconnect = false;
  readonly orders = new Map<bigint, OwnedOrder>();
  /** ClOrdID → order id, for every ClOrdID this session used (new orders and replacements). */
  readonly clOrdIds = new Map<string, bigint | undefined>();
  /** ClOrdIDs of new orders in flight → settles with the order's outcome. */
  readonly claims = new Map<string, Promise<void>>();
  /** Settles once the previous new order of the session was published (or refused). */
  turn: Promise<void> = Promise.resolve();

  constructor(
    readonly apiKey: string,
    readonly accountId: string,
    readonly id = randomToken(16),
  ) {}
}

interface CommandContext {
  session: Session;
  kind: "new" | "cancel" | "replace" | "mass" | "cod";
  clOrdId: string;
  refSeq: bigint;
}

const CL_ORD_ID_RE = /^[.A-Z:/a-z0-9_-]{1,36}$/;
const SYMBOL_RE = new RegExp(SYMBOL_PATTERN);
/** How long a command's id is kept to route the engine's answers (its events come within it). */
const COMMAND_TTL_MS = 120_000;
/** Messages waiting to be taken in at which a connection's stream is paused (resumed at a tenth). */
const QUEUE_HIGH = 1_024;
/** Kept messages beyond `keepMessages` are deleted from the database in steps of this many. */
const TRIM_STEP = 1_024n;
/** Command ids of a session's orders: `og-<order id>-s-<session id>` / `og-r-<order id>-s-<session id>`. */
const TAGGED_COMMAND_RE = /^og-(?:r-)?\d+-s-([A-Za-z0-9]+)$/;

class Refused extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly field = "",
  ) {
    super(message);
  }
}

/**
 * "Has the account an order with this ClOrdID in this market?" for the orders in flight, one query
 * per round for all of them (a burst of NewOrderSingles would otherwise hold the pool's connections).
 */
class ClOrdIdLookups {
  private queue: {
    accountId: string;
    symbol: string;
    clOrdId: string;
    resolve(used: boolean): void;
    reject(error: unknown): void;
  }[] = [];
  private running = false;

  constructor(private readonly pool: import("pg").Pool) {}

  used(accountId: string, symbol: string, clOrdId: string): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.queue.push({ accountId, symbol, clOrdId, resolve, reject });
      if (!this.running) {
        this.running = true;
        void this.drain();
      }
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const round = this.queue.splice(0, 1_000);
      try {
        const { rows } = await this.pool.query<{ a: string; s: string; c: string }>(
          // One index probe (og_orders_client) per ClOrdID: a plain join lets the planner, which
          // guesses 100 rows for unnest, hash the whole og_orders table instead (~1 ms per round).
          `select u.a, u.s, u.c
             from unnest($1::text[], $2::text[], $3::text[]) as u(a, s, c)
             cross join lateral (select 1 from og_orders o
               where o.account_id = u.a and o.symbol = u.s and o.client_order_id = u.c limit 1) as used`,
          [round.map((q) => q.accountId), round.map((q) => q.symbol), round.map((q) => q.clOrdId)],
        );
        const found = new Set(rows.map((r) => `${r.a}\u0000${r.s}\u0000${r.c}`));
        for (const q of round) q.resolve(found.has(`${q.accountId}\u0000${q.symbol}\u0000${q.clOrdId}`));
      } catch (error) {
        for (const q of round) q.reject(error);
      }
    }
    this.running = false;
  }
}

export class MarketMakerSessions {
  private readonly sessions = new Map<string, Session>();
  private readonly byId = new Map<string, Session>();
  private readonly store: MarketMakerStore;
  /** Changes of the projection batch being routed (inside its transaction), then until it settles. */
  private tx: SessionChanges | undefined;
  private txWritten: SessionChanges | undefined;
  /** Changes for the next group commit. */
  private group = new SessionChanges();
  private groupScheduled = false;
  private groupRun: Promise<void> = Promise.resolve();
  /** Settles once the sessions are loaded from the database. */
  private loading: Promise<void> = Promise.resolve();
  private readonly owners = new Map<bigint, Session>();
  /**
   * Cancel-on-disconnect sessions restored at start and not logged on since: an order of theirs
   * learnt of only after the restart (published just before it) is cancelled too.
   */
  private readonly disconnectedAtStart = new Set<Session>();
  private readonly commands = new Map<string, CommandContext>();
  private readonly connections = new Set<Connection>();
  private readonly queries: OrderQueries;
  private readonly clOrdIdLookups: ClOrdIdLookups;
  private readonly now: () => number;
  private readonly keep: number;
  private readonly maxInFlight: number;
  private readonly metrics;

  /** The grpc-js service to add to a server: `createGrpcServer({ services: [mm.service] })`. */
  readonly service;

  constructor(private readonly o: MarketMakerOptions) {
    this.queries = new OrderQueries(o.pool);
    this.store = new MarketMakerStore(o.pool);
    this.clOrdIdLookups = new ClOrdIdLookups(o.pool);
    this.now = o.now ?? Date.now;
    this.keep = o.keepMessages ?? 10_000;
    this.maxInFlight = Math.max(1, o.maxInFlight ?? 256);
    this.metrics = createMarketMakerMetrics(o.registry);
    this.service = {
      definition: MarketMakerService,
      implementation: { session: (call: Call) => this.open(call) },
    };
  }

  /** Loads the sessions, their kept messages and open orders from the database (tables must exist). */
  async start(): Promise<void> {
    this.loading = this.restore();
    await this.loading;
    // The restart ended every connection: sessions that chose cancel-on-disconnect lose their orders
    // (again, if the stop already cancelled them: the engine refuses the repeat, nothing is reported).
    for (const x of this.sessions.values()) if (x.cancelOnDisconnect) this.disconnectedAtStart.add(x);
    const cod = [...this.disconnectedAtStart].filter((x) => [...x.orders.values()].some((o) => o.open));
    if (cod.length > 0) void this.cancelRestored(cod);
  }

  /** Settles once every one of `symbols` is a known market (they are loaded after start), or after 60 s. */
  private async whenMarketsKnown(symbols: string[]): Promise<void> {
    const deadline = Date.now() + 60_000;
    while (symbols.some((sym) => !this.o.markets.get(sym)) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Cancel-on-disconnect of restored sessions, once the markets are known (loaded after start). */
  private async cancelRestored(sessions: Session[]): Promise<void> {
    await this.whenMarketsKnown(sessions.flatMap((x) => [...x.orders.values()].map((o) => o.symbol)));
    for (const x of sessions) {
      await this.cancelAll(x).catch((error) => {
        this.o.logger.error({ err: error, session: x.id }, "cancel-on-disconnect after restart failed");
      });
    }
  }

  private async restore(): Promise<void> {
    const { sessions, messages, orders } = await this.store.load(this.keep);
    this.sessions.clear();
    this.byId.clear();
    this.owners.clear();
    for (const r of sessions) {
      const s = new Session(r.apiKey, r.accountId, r.sessionId);
      s.nextInbound = r.nextInbound;
      s.kept = messages.get(r.apiKey) ?? [];
      const last = s.kept[s.kept.length - 1]?.seqNum ?? 0n;
      s.lastOutbound = r.lastOutbound > last ? r.lastOutbound : last;
      s.trimmedTo = s.lastOutbound > BigInt(this.keep) ? s.lastOutbound - BigInt(this.keep) : 0n;
      s.cancelOnDisconnect = r.cancelOnDisconnect;
      s.restored = true;
      this.sessions.set(s.apiKey, s);
      this.byId.set(s.id, s);
    }
    for (const o of orders) {
      const s = this.sessions.get(o.apiKey);
      if (s) this.own(s, o.orderId, o.clOrdId, o.symbol);
    }
  }

  /**
   * Joins the order projection's transactions: the reports of a batch's events are derived and
   * written inside it, and written to the clients once it committed.
   */
  readonly participant: ProjectionParticipant = {
    write: async (client, events) => {
      await this.loading;
      const c = new SessionChanges();
      this.tx = c;
      try {
        for (const e of events) {
          try {
            this.route(e);
          } catch (error) {
            this.o.logger.warn({ err: error }, "market-maker report failed");
          }
        }
      } finally {
        this.tx = undefined;
      }
      this.txWritten = c;
      if (!c.empty) await this.store.write(client, c);
    },
    settled: (committed) => {
      const c = this.txWritten;
      this.txWritten = undefined;
      if (!c || c.empty) return;
      if (committed) this.durable(c);
      else this.reset("projection batch rolled back");
    },
  };

  /** Where changes go: the projection batch being routed, else the next group commit. */
  private changes(): SessionChanges {
    if (this.tx) return this.tx;
    this.scheduleGroup();
    return this.group;
  }

  private scheduleGroup(): void {
    if (this.groupScheduled) return;
    this.groupScheduled = true;
    this.groupRun = this.groupRun
      .then(() => new Promise((resolve) => setImmediate(resolve)))
      .then(async () => {
        this.groupScheduled = false;
        const c = this.group;
        this.group = new SessionChanges();
        if (c.empty) return;
        try {
          await this.store.commit(c);
          this.durable(c);
        } catch (error) {
          this.o.logger.error({ err: error }, "market-maker session write failed");
          this.reset("session write failed");
        }
      });
  }

  /** Writes the session rows now (group-committed with whatever else is pending). */
  private async persist(sessions: Iterable<Session>): Promise<void> {
    const c = this.changes();
    for (const s of sessions) c.touched.set(s.apiKey, s);
    if (c === this.group) await this.groupRun;
  }

  /** Changes committed: their messages go to the clients, in sequence order. */
  private durable(c: SessionChanges): void {
    const drained = new Set<Session>();
    for (const { apiKey, message } of c.messages) {
      const s = c.touched.get(apiKey) as Session | undefined;
      if (!s) continue;
      s.durable.add(message.seqNum);
      drained.add(s);
    }
    for (const s of drained) this.drain(s);
  }

  private drain(s: Session): void {
    while (s.outbox.length > 0) {
      const m = s.outbox[0]!;
      if (!s.durable.delete(m.seqNum)) return;
      s.outbox.shift();
      if (s.connection && m.body) this.write(s.connection, m.seqNum, m.body);
    }
  }

  /**
   * A write failed: what this process holds may not match the database. Every stream is ended
   * (without cancel-on-disconnect) and the sessions are loaded again; clients log on and resend.
   */
  private reset(reason: string): void {
    this.o.logger.error({ reason }, "market-maker sessions reloaded from the database");
    for (const c of [...this.connections]) {
      this.finish(c, true);
      if (!c.call.writableEnded) c.call.end();
    }
    this.loading = this.restore().catch((error) => {
      this.o.logger.error({ err: error }, "market-maker sessions could not be reloaded");
    });
  }

  /** Open connections (for tests and readiness). */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** Ends every connection; cancel-on-disconnect runs (and is awaited) for sessions that chose it. */
  async close(): Promise<void> {
    const all = [...this.connections];
    for (const c of all) {
      this.finish(c);
      if (!c.call.writableEnded) c.call.end();
    }
    await Promise.all(all.map((c) => this.idle(c)));
    // Inbound numbering of every session (written with each write, but not on every message).
    await this.persist(this.sessions.values());
  }

  /** Settles when everything the connection took in is done. */
  private async idle(c: Connection): Promise<void> {
    await c.chain;
    while (c.inflight.size > 0) await Promise.allSettled([...c.inflight]);
  }

  // ------------------------------------------------------------------------- connection lifecycle

  private open(call: Call): void {
    const c: Connection = {
      call,
      session: undefined,
      chain: Promise.resolve(),
      inflight: new Set(),
      queued: 0,
      paused: false,
      closed: false,
    };
    this.connections.add(c);
    this.metrics.connections.inc();
    call.on("data", (m: ClientMessage) => {
      this.metrics.messagesIn.inc({ type: m.body?.$case ?? "empty" });
      if (++c.queued >= QUEUE_HIGH && !c.paused) {
        c.paused = true;
        call.pause();
      }
      c.chain = c.chain
        .then(() => {
          if (--c.queued <= QUEUE_HIGH / 10 && c.paused) {
            c.paused = false;
            call.resume();
          }
          return c.closed ? undefined : this.intake(c, m);
        })
        .catch((error) => this.o.logger.error({ err: error }, "market-maker message failed"));
    });
    call.on("end", () => {
      this.finish(c);
      if (!call.writableEnded) call.end();
    });
    call.on("error", () => this.finish(c));
    call.on("cancelled", () => this.finish(c));
    call.on("close", () => this.finish(c));
    const interval = this.o.heartbeatIntervalMs ?? 30_000;
    if (interval > 0) {
      c.heartbeat = setInterval(() => this.write(c, 0n, { $case: "heartbeat", value: {} }), interval);
      c.heartbeat.unref();
    }
  }

  /** The connection is gone: detach it; its session's open orders are cancelled when it chose so. */
  private finish(c: Connection, takeover = false): void {
    if (c.closed) return;
    c.closed = true;
    clearInterval(c.heartbeat);
    this.connections.delete(c);
    this.metrics.connections.dec();
    const s = c.session;
    if (!s || s.connection !== c) return;
    s.connection = undefined;
    this.metrics.sessions.dec();
    if (s.cancelOnDisconnect && !takeover) {
      // After what the connection already took in (an order being placed is published first).
      c.chain = this.idle(c)
        .then(() => this.cancelAll(s))
        .catch((error) => {
          this.o.logger.error({ err: error, session: s.id }, "cancel-on-disconnect failed");
        });
    }
  }

  private write(c: Connection, seqNum: bigint, body: Body): void {
    if (c.closed || c.call.writableEnded || c.call.cancelled) return;
    this.metrics.messagesOut.inc({ type: body.$case });
    c.call.write({ seqNum, body });
  }

  /**
   * A sequenced message: numbered, kept for resend, written to the database with the projection batch
   * being routed (or group-committed), and to the client once durable.
   */
  private emit(s: Session, body: Body): void {
    s.lastOutbound += 1n;
    const message: ServerMessage = { seqNum: s.lastOutbound, body };
    s.kept.push(message);
    if (s.kept.length > this.keep) s.kept.splice(0, s.kept.length - this.keep);
    s.outbox.push(message);
    const c = this.changes();
    c.messages.push({ apiKey: s.apiKey, message });
    c.touched.set(s.apiKey, s);
    const keepFrom = s.lastOutbound - BigInt(this.keep);
    if (keepFrom - s.trimmedTo >= TRIM_STEP) {
      s.trimmedTo = keepFrom;
      c.trims.set(s.apiKey, keepFrom);
    }
    if (body.$case === "reject") this.metrics.rejects.inc({ code: body.value.error?.code ?? "" });
    if (body.$case === "executionReport" && body.value.execType === ExecType.REJECTED) {
      this.metrics.rejects.inc({ code: "EXECUTION_REJECTED" });
    }
  }

  private reject(s: Session, refSeq: bigint, error: unknown, clOrdId = ""): void {
    const e =
      error instanceof Refused ? detail(error.code, error.message, error.field) : errorDetailOf(error);
    if (e.code === "INTERNAL") this.o.logger.error({ err: error }, "market-maker request failed");
    this.emit(s, { $case: "reject", value: { refSeqNum: refSeq, error: e, clOrdId } });
  }

  /** Kept messages in [from, to] (to 0 = all) already written; those not durable yet follow anyway. */
  private resend(s: Session, from: bigint, to: bigint): void {
    const c = s.connection;
    if (!c) return;
    const pending = s.outbox[0]?.seqNum ?? s.lastOutbound + 1n;
    for (const m of s.kept) {
      if (m.seqNum >= pending) break;
      if (m.seqNum >= from && (to === 0n || m.seqNum <= to) && m.body) {
        this.metrics.resent.inc();
        this.write(c, m.seqNum, m.body);
      }
    }
  }

  // ------------------------------------------------------------------------- inbound

  /**
   * Takes in one message, in arrival order: an in-sequence NewOrderSingle of a logged-on session
   * starts (at most `maxInFlight` at a time) and the next message is taken in at once; any other
   * message first waits until the orders before it are done.
   */
  private async intake(c: Connection, m: ClientMessage): Promise<void> {
    const s = c.session;
    if (s && m.body?.$case === "newOrder" && m.seqNum === s.nextInbound) {
      s.nextInbound += 1n;
      while (c.inflight.size >= this.maxInFlight) await Promise.race(c.inflight);
      const task = this.newOrder(s, m.seqNum, m.body.value).catch((error) =>
        this.o.logger.error({ err: error }, "market-maker order failed"),
      );
      c.inflight.add(task);
      void task.finally(() => c.inflight.delete(task));
      return;
    }
    while (c.inflight.size > 0) await Promise.allSettled([...c.inflight]);
    if (!c.closed) await this.handle(c, m);
  }

  private async handle(c: Connection, m: ClientMessage): Promise<void> {
    const body = m.body;
    const s = c.session;
    if (!s) {
      if (body?.$case !== "logon") {
        this.metrics.rejects.inc({ code: "NOT_LOGGED_ON" });
        this.write(c, 0n, {
          $case: "reject",
          value: { refSeqNum: m.seqNum, error: detail("NOT_LOGGED_ON", "Logon first"), clOrdId: "" },
        });
        return;
      }
      await this.logon(c, m.seqNum, body.value);
      return;
    }
    if (m.seqNum !== s.nextInbound) {
      this.metrics.gaps.inc();
      this.write(c, 0n, { $case: "gap", value: { expectedSeqNum: s.nextInbound, receivedSeqNum: m.seqNum } });
      return;
    }
    s.nextInbound += 1n;
    switch (body?.$case) {
      case "logon":
        this.reject(s, m.seqNum, new Refused("ALREADY_LOGGED_ON", "this stream is already logged on"));
        return;
      case "heartbeat":
        this.write(c, 0n, { $case: "heartbeat", value: {} });
        return;
      case "resend":
        this.resend(s, body.value.beginSeqNum, body.value.endSeqNum);
        return;
      case "newOrder":
        await this.newOrder(s, m.seqNum, body.value);
        return;
      case "cancel":
        await this.cancel(s, m.seqNum, body.value);
        return;
      case "replace":
        await this.replace(s, m.seqNum, body.value);
        return;
      case "massCancel":
        await this.massCancel(s, m.seqNum, body.value);
        return;
      default:
        this.reject(s, m.seqNum, new Refused("INVALID_MESSAGE", "message without a body"));
    }
  }

  private async logon(c: Connection, seqNum: bigint, l: Logon): Promise<void> {
    const refuse = (code: string, message: string) => {
      this.metrics.rejects.inc({ code });
      this.metrics.logons.inc({ result: code });
      this.write(c, 0n, {
        $case: "reject",
        value: { refSeqNum: seqNum, error: detail(code, message), clOrdId: "" },
      });
      this.finish(c);
      if (!c.call.writableEnded) c.call.end();
    };
    if (!API_KEY_PATTERN.test(l.apiKey)) return refuse("INVALID_API_KEY", "API-key format invalid.");
    const key = await this.o.keys.lookup(l.apiKey);
    if (key === null) return refuse("INVALID_API_KEY", "Invalid API-key, IP, or permissions for action.");
    const ip = peerIp(c.call.getPeer());
    if (key.ipAllowList.length > 0 && !key.ipAllowList.includes(ip)) {
      return refuse("INVALID_API_KEY", "Invalid API-key, IP, or permissions for action.");
    }
    const t = Number(l.timestampMs);
    const serverTime = this.now();
    if (!(t < serverTime + 1_000 && serverTime - t <= (this.o.logonWindowMs ?? 5_000))) {
      return refuse("STALE_TIMESTAMP", "Timestamp for this request is outside of the recvWindow.");
    }
    if (!signatureMatches(key.secret, `${l.apiKey}:${l.timestampMs}`, l.signature)) {
      return refuse("INVALID_SIGNATURE", "Signature for this request is not valid.");
    }
    if (!key.permissions.includes("trade")) {
      return refuse("PERMISSION_DENIED", "Invalid API-key, IP, or permissions for action.");
    }
    await this.loading;
    let s = this.sessions.get(l.apiKey);
    // Restored after a restart: messages taken in before a crash may not be counted in the database.
    const ahead = s?.restored === true && seqNum > s.nextInbound;
    if (s && seqNum !== 1n && seqNum !== s.nextInbound && !ahead) {
      this.metrics.gaps.inc();
      this.write(c, 0n, { $case: "gap", value: { expectedSeqNum: s.nextInbound, receivedSeqNum: seqNum } });
      return;
    }
    if (!s) {
      if (seqNum !== 1n) {
        this.metrics.gaps.inc();
        this.write(c, 0n, { $case: "gap", value: { expectedSeqNum: 1n, receivedSeqNum: seqNum } });
        return;
      }
      s = new Session(l.apiKey, key.accountId);
      this.sessions.set(l.apiKey, s);
      this.byId.set(s.id, s);
    }
    const previous = s.connection;
    if (previous) {
      // A new logon takes the session over (the old stream is ended without cancel-on-disconnect).
      this.finish(previous, true);
      if (!previous.call.writableEnded) previous.call.end();
    }
    s.nextInbound = seqNum + 1n;
    s.cancelOnDisconnect = l.cancelOnDisconnect;
    s.restored = false;
    this.disconnectedAtStart.delete(s);
    // The session row (its id tags its orders' commands) is durable before anything is taken in.
    await this.persist([s]);
    if (c.closed) return;
    s.connection = c;
    c.session = s;
    this.metrics.sessions.inc();
    this.metrics.logons.inc({ result: "OK" });
    this.write(c, 0n, {
      $case: "logonAck",
      value: { sessionId: s.id, nextExpectedSeqNum: s.nextInbound, lastSeqNum: s.lastOutbound },
    });
    if (l.lastReceivedSeqNum < s.lastOutbound) this.resend(s, l.lastReceivedSeqNum + 1n, 0n);
    this.drain(s);
  }

  private track(
    s: Session,
    kind: CommandContext["kind"],
    commandId: string,
    clOrdId: string,
    refSeq: bigint,
  ) {
    this.commands.set(commandId, { session: s, kind, clOrdId, refSeq });
    setTimeout(() => this.commands.delete(commandId), COMMAND_TTL_MS).unref();
  }

  private own(s: Session, orderId: bigint, clOrdId: string, symbol: string): void {
    s.orders.set(orderId, { orderId, clOrdId, symbol, open: true });
    s.clOrdIds.set(clOrdId, orderId);
    this.owners.set(orderId, s);
  }

  /** An owned order's row (kept while open, deleted once finished), with the current batch. */
  private record(s: Session, o: OwnedOrder): void {
    const c = this.changes();
    c.orders.set(o.orderId, {
      orderId: o.orderId,
      apiKey: s.apiKey,
      clOrdId: o.clOrdId,
      symbol: o.symbol,
      open: o.open,
    });
    c.touched.set(s.apiKey, s);
  }

  /**
   * The session of an order: known in this process, else named by the command id of its first
   * events (an order published just before a restart), which makes it owned from here on.
   */
  private ownerOf(o: OrderState, symbol: string, commandId: string): Session | undefined {
    const known = this.owners.get(o.orderId);
    if (known) return known;
    const id = TAGGED_COMMAND_RE.exec(commandId)?.[1];
    const s = id === undefined ? undefined : this.byId.get(id);
    if (!s || s.accountId !== o.accountId) return undefined;
    this.own(s, o.orderId, o.clientOrderId, symbol);
    // Placed just before the restart by a cancel-on-disconnect session not logged on again: the
    // restart's cancel-on-disconnect ran without it (it was not recorded yet), so it goes now.
    if (this.disconnectedAtStart.has(s)) this.cancelAdopted(s, o.orderId);
    return s;
  }

  /** Cancel-on-disconnect of an order adopted from its command id, once its batch is routed. */
  private cancelAdopted(s: Session, orderId: bigint): void {
    setImmediate(() => {
      const o = s.orders.get(orderId);
      if (!o) return;
      this.whenMarketsKnown([o.symbol])
        .then(() => this.cancelOwned(s, o))
        .catch((error) => {
          this.o.logger.error({ err: error, session: s.id }, "cancel-on-disconnect after restart failed");
        });
    });
  }

  /** A ClOrdID not used before by this session nor by an order of the account in this market. */
  private async checkClOrdId(s: Session, symbol: string, clOrdId: string): Promise<void> {
    if (!CL_ORD_ID_RE.test(clOrdId)) {
      throw new Refused("INVALID_FIELD", "cl_ord_id must match ^[.A-Z:/a-z0-9_-]{1,36}$", "cl_ord_id");
    }
    if (s.clOrdIds.has(clOrdId)) throw duplicateClOrdId();
    if (await this.queries.order(s.accountId, symbol, { clientOrderId: clOrdId })) throw duplicateClOrdId();
  }

  private spec(symbol: string): MarketSpec {
    if (symbol === "") throw new Refused("MISSING_FIELD", "symbol is required", "symbol");
    const spec = SYMBOL_RE.test(symbol) ? this.o.markets.get(symbol) : undefined;
    if (!spec) throw new Refused("UNKNOWN_SYMBOL", "Invalid symbol.", "symbol");
    return spec;
  }

  /**
   * A NewOrderSingle, concurrently with the session's other new orders: everything up to the
   * publish runs at once; the publish (or the Reject) waits for the session's previous new order.
   * Up to its first await it runs synchronously in message order (the turn and the ClOrdID claim).
   */
  private async newOrder(s: Session, seq: bigint, m: NewOrderSingle): Promise<void> {
    const previous = s.turn;
    let passTurn!: () => void;
    s.turn = new Promise((resolve) => {
      passTurn = resolve;
    });
    let claimed = false;
    let settleClaim: (() => void) | undefined;
    try {
      if (m.clOrdId === "") throw new Refused("MISSING_FIELD", "cl_ord_id is required", "cl_ord_id");
      const v = validateOrder(this.o.markets, paramsOf(m));
      if (!CL_ORD_ID_RE.test(m.clOrdId)) {
        throw new Refused("INVALID_FIELD", "cl_ord_id must match ^[.A-Z:/a-z0-9_-]{1,36}$", "cl_ord_id");
      }
      // The same ClOrdID on an order still in flight: its outcome decides (free again if refused).
      for (let other = s.claims.get(m.clOrdId); other; other = s.claims.get(m.clOrdId)) await other;
      if (s.clOrdIds.has(m.clOrdId)) throw duplicateClOrdId();
      s.clOrdIds.set(m.clOrdId, undefined);
      claimed = true;
      s.claims.set(
        m.clOrdId,
        new Promise<void>((resolve) => {
          settleClaim = resolve;
        }),
      );
      if (await this.clOrdIdLookups.used(s.accountId, v.spec.symbol, m.clOrdId)) throw duplicateClOrdId();
      await this.o.entry.countOrder(s.accountId);
      await this.o.entry.place(s.accountId, v, {
        wait: false,
        commandId: (orderId) => `og-${orderId}-s-${s.id}`,
        beforePublish: (orderId, commandId) => {
          this.own(s, orderId, m.clOrdId, v.spec.symbol);
          this.track(s, "new", commandId, m.clOrdId, seq);
          return previous;
        },
        published: passTurn,
      });
    } catch (error) {
      // Refused before the engine: the ClOrdID may be used again (no order exists under it).
      if (claimed && s.clOrdIds.get(m.clOrdId) === undefined) s.clOrdIds.delete(m.clOrdId);
      await previous;
      this.reject(s, seq, error, m.clOrdId);
    } finally {
      passTurn();
      if (settleClaim) {
        s.claims.delete(m.clOrdId);
        settleClaim();
      }
    }
  }

  /** The session's (or else the account's) open order with ClOrdID `orig` in `spec`'s market. */
  private async findOpen(s: Session, spec: MarketSpec, orig: string): Promise<bigint> {
    if (orig === "") throw new Refused("MISSING_FIELD", "orig_cl_ord_id is required", "orig_cl_ord_id");
    const id = s.clOrdIds.get(orig);
    const owned = id === undefined ? undefined : s.orders.get(id);
    if (owned && owned.symbol === spec.symbol) {
      if (!owned.open) throw unknownOrderRefusal();
      return owned.orderId;
    }
    const row = await this.queries.order(s.accountId, spec.symbol, { clientOrderId: orig });
    if (!row || !isOpenStatus(row.status)) throw unknownOrderRefusal();
    return row.orderId;
  }

  private async cancel(s: Session, seq: bigint, m: OrderCancelRequest): Promise<void> {
    try {
      const spec = this.spec(m.symbol);
      if (m.clOrdId === "") throw new Refused("MISSING_FIELD", "cl_ord_id is required", "cl_ord_id");
      const orderId = await this.findOpen(s, spec, m.origClOrdId);
      const commandId = `og-c-${orderId}-${randomToken(8)}`;
      this.track(s, "cancel", commandId, m.clOrdId, seq);
      await this.o.entry.command(
        spec,
        commandId,
        { $case: "cancel", value: { accountId: s.accountId, orderId, clientOrderId: "" } },
        false,
      );
    } catch (error) {
      this.reject(s, seq, error, m.clOrdId);
    }
  }

  /**
   * Cancel-replace: the engine's ReplaceOrder under a new order id and ClOrdID (`order_qty` = the
   * replacement's open quantity; empty price / order_qty = unchanged). When the replacement needs more
   * funds than the order still holds, the difference is reserved under the new id first (the wallet
   * moves the old hold onto it) and released again if the engine refuses.
   */
  private async replace(s: Session, seq: bigint, m: OrderCancelReplaceRequest): Promise<void> {
    try {
      const spec = this.spec(m.symbol);
      if (m.clOrdId === "") throw new Refused("MISSING_FIELD", "cl_ord_id is required", "cl_ord_id");
      if (m.price === "" && m.orderQty === "") {
        throw new Refused("MISSING_FIELD", "price or order_qty is required", "price");
      }
      const orderId = await this.findOpen(s, spec, m.origClOrdId);
      await this.checkClOrdId(s, spec.symbol, m.clOrdId);
      const live = await this.o.engine.getOrder(spec.symbol, orderId, s.accountId);
      if (!live) throw unknownOrderRefusal();
      const leaves = live.quantity - live.filledQuantity;
      let price = live.price;
      if (m.price !== "") {
        const p = parseDecimal(m.price, spec.priceScale, "price");
        checkPrice(spec, p);
        price = p.units;
      }
      let quantity = leaves;
      if (m.orderQty !== "") {
        const q = parseDecimal(m.orderQty, spec.quantityScale, "quantity");
        checkQty(spec, q);
        quantity = q.units;
      }
      if (price * quantity < spec.minNotional) throw filterFailure("NOTIONAL");
      const before = this.o.entry.holdOf(spec, live.side, live.price, leaves);
      const after = this.o.entry.holdOf(spec, live.side, price, quantity);
      const extra = after.amount - before.amount;
      const newId = await this.o.entry.nextOrderId();
      s.clOrdIds.set(m.clOrdId, undefined);
      if (extra > 0n) {
        try {
          await this.o.entry.reserve(s.accountId, spec.symbol, after.asset, extra, newId);
        } catch (error) {
          s.clOrdIds.delete(m.clOrdId);
          throw error;
        }
      }
      const commandId = `og-r-${newId}-s-${s.id}`;
      this.own(s, newId, m.clOrdId, spec.symbol);
      this.track(s, "replace", commandId, m.clOrdId, seq);
      let events: ExecutionEvent[];
      try {
        events = await this.o.entry.command(
          spec,
          commandId,
          {
            $case: "replace",
            value: {
              accountId: s.accountId,
              orderId,
              clientOrderId: "",
              newOrderId: newId,
              newClientOrderId: m.clOrdId,
              newPrice: price,
              newQuantity: quantity,
            },
          },
          extra > 0n,
        );
      } catch (error) {
        this.disown(s, newId, m.clOrdId);
        if (extra > 0n) await this.o.entry.releaseUnpublished(s.accountId, newId);
        throw error;
      }
      if (extra > 0n && events.length > 0) {
        if (!events.some((e) => e.event?.$case === "replaced")) {
          // Refused: the extra hold is not the engine's (its reject names the old order): release it.
          await this.o.entry.releaseUnpublished(s.accountId, newId);
        } else {
          await this.o.entry.forget(newId);
        }
      }
    } catch (error) {
      this.reject(s, seq, error, m.clOrdId);
    }
  }

  private disown(s: Session, orderId: bigint, clOrdId: string): void {
    s.orders.delete(orderId);
    s.clOrdIds.delete(clOrdId);
    this.owners.delete(orderId);
  }

  private async massCancel(s: Session, seq: bigint, m: OrderMassCancelRequest): Promise<void> {
    try {
      const symbols = new Set<string>();
      if (m.symbol !== "") symbols.add(this.spec(m.symbol).symbol);
      else {
        for (const r of await this.queries.openOrders(s.accountId)) symbols.add(r.symbol);
        for (const o of s.orders.values()) if (o.open) symbols.add(o.symbol);
      }
      const open =
        m.symbol === ""
          ? symbols.size
          : (await this.queries.openOrders(s.accountId, m.symbol)).length +
            [...s.orders.values()].filter((o) => o.open && o.symbol === m.symbol).length;
      if (open === 0) throw unknownOrderRefusal("no open orders");
      for (const symbol of symbols) {
        const spec = this.spec(symbol);
        const commandId = `og-m-${randomToken(16)}`;
        this.track(s, "mass", commandId, m.clOrdId, seq);
        await this.o.entry.command(
          spec,
          commandId,
          { $case: "massCancel", value: { accountId: s.accountId } },
          false,
        );
      }
    } catch (error) {
      this.reject(s, seq, error, m.clOrdId);
    }
  }

  /** Cancel-on-disconnect: every order of the session not known to be finished. */
  private async cancelAll(s: Session): Promise<void> {
    for (const o of s.orders.values()) await this.cancelOwned(s, o);
  }

  /** Cancel-on-disconnect of one order of the session (not once it logged on again meanwhile). */
  private async cancelOwned(s: Session, o: OwnedOrder): Promise<void> {
    const spec = this.o.markets.get(o.symbol);
    if (s.connection || !o.open || !spec) return;
    const commandId = `og-c-${o.orderId}-cod-${randomToken(6)}`;
    this.track(s, "cod", commandId, "", 0n);
    this.metrics.codCancels.inc();
    await this.o.entry.command(
      spec,
      commandId,
      { $case: "cancel", value: { accountId: s.accountId, orderId: o.orderId, clientOrderId: "" } },
      false,
    );
  }

  // ------------------------------------------------------------------------- engine events → reports

  private route(e: ExecutionEvent): void {
    const body = e.event;
    if (!body) return;
    const commandId = e.header?.commandId ?? "";
    const ctx = this.commands.get(commandId);
    const time = e.header?.timeMs ?? 0n;
    const execBase = `${e.header?.shard ?? 0}-${e.header?.sequence ?? 0n}`;
    switch (body.$case) {
      case "accepted": {
        const o = body.value.order;
        const s = o && this.ownerOf(o, e.symbol, commandId);
        if (o && s) this.report(s, e.symbol, o, ExecType.NEW, execBase, time, {});
        return;
      }
      case "trade": {
        const t = body.value;
        for (const [o, side] of [
          [t.maker, "m"],
          [t.taker, "t"],
        ] as const) {
          // The command is the taker's: only its order may be named by the command id.
          const s = o && (side === "t" ? this.ownerOf(o, e.symbol, commandId) : this.owners.get(o.orderId));
          const spec = this.o.markets.get(e.symbol);
          if (o && s && spec) {
            this.report(s, e.symbol, o, ExecType.TRADE, `${execBase}-${side}`, time, {
              lastPx: priceText(spec, t.price),
              lastQty: qtyText(spec, t.quantity),
            });
          }
        }
        return;
      }
      case "cancelled": {
        const o = body.value.order;
        if (!o) return;
        const s = this.owners.get(o.orderId) ?? ctx?.session;
        if (!s) return;
        const own = ctx?.kind === "cancel" && ctx.session === s;
        this.report(s, e.symbol, o, ExecType.CANCELED, execBase, time, {
          clOrdId: own ? ctx.clOrdId : o.clientOrderId,
          origClOrdId: own ? o.clientOrderId : "",
          text: ctx?.kind === "cod" ? "CANCEL_ON_DISCONNECT" : body.value.reason,
        });
        return;
      }
      case "expired": {
        const o = body.value.order;
        const s = o && (this.owners.get(o.orderId) ?? ctx?.session);
        if (o && s)
          this.report(s, e.symbol, o, ExecType.EXPIRED, execBase, time, { text: body.value.reason });
        return;
      }
      case "triggered": {
        const o = body.value.order;
        const s = o && this.owners.get(o.orderId);
        if (o && s) this.report(s, e.symbol, o, ExecType.TRIGGERED, execBase, time, {});
        return;
      }
      case "replaced": {
        const { oldOrder, newOrder } = body.value;
        if (!oldOrder || !newOrder) return;
        const s = this.owners.get(newOrder.orderId) ?? this.owners.get(oldOrder.orderId) ?? ctx?.session;
        if (!s) return;
        const old = s.orders.get(oldOrder.orderId);
        if (old) old.open = false;
        if (old) this.record(s, old);
        if (!s.orders.has(newOrder.orderId)) this.own(s, newOrder.orderId, newOrder.clientOrderId, e.symbol);
        this.report(s, e.symbol, newOrder, ExecType.REPLACED, execBase, time, {
          origClOrdId: oldOrder.clientOrderId,
          text: body.value.keptPriority ? "PRIORITY_KEPT" : "PRIORITY_LOST",
        });
        return;
      }
      case "rejected": {
        const rejected = body.value.order;
        // After a restart the command's context is gone: a new order's session is named by its command id.
        const owner = !ctx && rejected?.orderId ? this.ownerOf(rejected, e.symbol, commandId) : undefined;
        const context: CommandContext | undefined =
          ctx ??
          (owner && rejected
            ? { session: owner, kind: "new", clOrdId: rejected.clientOrderId, refSeq: 0n }
            : undefined);
        if (!context) return;
        const s = context.session;
        const reason = body.value.reason;
        const text = body.value.message ? `${reason}: ${body.value.message}` : reason;
        if (context.kind === "new") {
          const o = body.value.order;
          const id = o?.orderId || s.clOrdIds.get(context.clOrdId);
          const owned = id === undefined ? undefined : s.orders.get(id);
          if (owned) {
            owned.open = false;
            this.record(s, owned);
          }
          this.emit(s, {
            $case: "executionReport",
            value: {
              ...emptyReport(),
              orderId: id?.toString() ?? "",
              clOrdId: context.clOrdId,
              execId: execBase,
              execType: ExecType.REJECTED,
              ordStatus: "8",
              symbol: e.symbol,
              side: o?.side ?? 0,
              text,
              transactTimeMs: time,
            },
          });
        } else if (context.kind === "replace") {
          const id = s.clOrdIds.get(context.clOrdId);
          if (id !== undefined) this.disown(s, id, context.clOrdId);
          this.emit(s, {
            $case: "reject",
            value: { refSeqNum: context.refSeq, error: detail(reason, text), clOrdId: context.clOrdId },
          });
        } else if (context.kind !== "cod") {
          this.emit(s, {
            $case: "reject",
            value: { refSeqNum: context.refSeq, error: detail(reason, text), clOrdId: context.clOrdId },
          });
        }
        return;
      }
      default:
        return;
    }
  }

  private report(
    s: Session,
    symbol: string,
    o: OrderState,
    execType: string,
    execId: string,
    time: bigint,
    extra: Partial<ExecutionReport>,
  ): void {
    const owned = s.orders.get(o.orderId);
    const open = isOpenStatus(o.status);
    if (owned) {
      owned.open = open;
      this.record(s, owned);
    }
    const spec = this.o.markets.get(symbol);
    const p = (v: bigint) => (spec ? priceText(spec, v) : v.toString());
    const q = (v: bigint) => (spec ? qtyText(spec, v) : v.toString());
    this.emit(s, {
      $case: "executionReport",
      value: {
        ...emptyReport(),
        orderId: o.orderId.toString(),
        clOrdId: o.clientOrderId,
        execId,
        execType,
        ordStatus: ordStatusOf(o.status),
        symbol,
        side: o.side,
        price: p(o.price),
        orderQty: q(o.quantity),
        cumQty: q(o.filledQuantity),
        leavesQty: q(open ? o.quantity - o.filledQuantity : 0n),
        transactTimeMs: time,
        ...extra,
      },
    });
  }
}

function emptyReport(): ExecutionReport {
  return {
    orderId: "",
    clOrdId: "",
    origClOrdId: "",
    execId: "",
    execType: "",
    ordStatus: "",
    symbol: "",
    side: 0,
    price: "",
    orderQty: "",
    lastPx: "",
    lastQty: "",
    cumQty: "",
    leavesQty: "",
    text: "",
    transactTimeMs: 0n,
  };
}

const duplicateClOrdId = () =>
  new Refused("DUPLICATE_CL_ORD_ID", "ClOrdID already used for an order of this account", "cl_ord_id");
const unknownOrderRefusal = (message = "Unknown order sent.") =>
  new Refused("UNKNOWN_ORDER", message, "orig_cl_ord_id");

/** "ipv4:127.0.0.1:5000", "127.0.0.1:5000", "[::1]:5000" → the address. */
function peerIp(peer: string): string {
  const p = peer.replace(/^ipv[46]:/, "");
  if (p.startsWith("[")) return p.slice(1, p.indexOf("]"));
  const i = p.lastIndexOf(":");
  return i > 0 && p.indexOf(":") === i ? p.slice(0, i) : p;
}

export function createMarketMakerMetrics(registry?: Registry) {
  const registers = registry ? [registry] : [];
  const existing = <T>(name: string) => registry?.getSingleMetric(name) as T | undefined;
  const counter = <L extends string>(name: string, help: string, labelNames: L[] = []) =>
    existing<Counter<L>>(name) ?? new Counter({ name, help, labelNames, registers });
  const gauge = (name: string, help: string) => existing<Gauge>(name) ?? new Gauge({ name, help, registers });
  return {
    sessions: gauge("gateway_mm_sessions", "market-maker sessions logged on"),
    connections: gauge("gateway_mm_connections", "open market-maker streams (logged on or not)"),
    messagesIn: counter("gateway_mm_messages_in_total", "market-maker messages received, by type", ["type"]),
    messagesOut: counter("gateway_mm_messages_out_total", "market-maker messages sent, by type", ["type"]),
    rejects: counter("gateway_mm_rejects_total", "market-maker requests refused, by code", ["code"]),
    logons: counter("gateway_mm_logons_total", "market-maker logons, by result", ["result"]),
    gaps: counter("gateway_mm_sequence_gaps_total", "inbound sequence gaps detected"),
    resent: counter("gateway_mm_resent_total", "messages resent (ResendRequest or Logon)"),
    codCancels: counter("gateway_mm_cod_cancels_total", "cancels sent by cancel-on-disconnect"),
  };
}
