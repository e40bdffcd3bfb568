/**
 * The FIX-like market-maker session (`excraft.v1.MarketMaker/Session`, one bidirectional stream per
 * connection) on top of the order core shared with REST (`OrderEntry`: validation, Wallet.Reserve,
 * orders.v1, engine answers) and the order projection (ExecutionReports from executions.v1 once durable).
 *
 * A session is identified by its API key and outlives its connections (in this process): inbound
 * MsgSeqNum must be last+1 (otherwise SequenceGap, message not processed; a Logon with seq_num 1 starts
 * inbound numbering again); ExecutionReports and Rejects are numbered and kept (`keepMessages`) so a
 * ResendRequest or Logon.last_received_seq_num resends them with their original numbers. LogonAck,
 * Heartbeat and SequenceGap are session-level: seq_num 0, not kept.
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
import { OrderQueries } from "../orders/queries.ts";
import { parseDecimal } from "../orders/units.ts";
import { detail, ExecType, errorDetailOf, isOpenStatus, ordStatusOf, paramsOf } from "./fix.ts";

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
  now?: () => number;
}

type Call = ServerDuplexStream<ClientMessage, ServerMessage>;
type Body = NonNullable<ServerMessage["body"]>;

interface OwnedOrder {
  orderId: bigint;
  clOrdId: string;
  spec: MarketSpec;
  open: boolean;
}

interface Connection {
  call: Call;
  session: Session | undefined;
  chain: Promise<void>;
  closed: boolean;
  heartbeat?: NodeJS.Timeout;
}

/** A logical session (one API key): sequence numbers, kept messages, the orders it placed. */
class Session {
  readonly id = randomToken(16);
  nextInbound = 1n;
  lastOutbound = 0n;
  kept: ServerMessage[] = [];
  connection: Connection | undefined;
  cancelOnDisconnect = false;
  readonly orders = new Map<bigint, OwnedOrder>();
  /** ClOrdID → order id, for every ClOrdID this session used (new orders and replacements). */
  readonly clOrdIds = new Map<string, bigint | undefined>();

  constructor(
    readonly apiKey: string,
    readonly accountId: string,
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

class Refused extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly field = "",
  ) {
    super(message);
  }
}

export class MarketMakerSessions {
  private readonly sessions = new Map<string, Session>();
  private readonly owners = new Map<bigint, Session>();
  private readonly commands = new Map<string, CommandContext>();
  private readonly connections = new Set<Connection>();
  private readonly queries: OrderQueries;
  private readonly now: () => number;
  private readonly keep: number;
  private readonly metrics;

  /** The grpc-js service to add to a server: `createGrpcServer({ services: [mm.service] })`. */
  readonly service;

  constructor(private readonly o: MarketMakerOptions) {
    this.queries = new OrderQueries(o.pool);
    this.now = o.now ?? Date.now;
    this.keep = o.keepMessages ?? 10_000;
    this.metrics = createMarketMakerMetrics(o.registry);
    this.service = {
      definition: MarketMakerService,
      implementation: { session: (call: Call) => this.open(call) },
    };
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
    await Promise.all(all.map((c) => c.chain));
  }

  // ------------------------------------------------------------------------- connection lifecycle

  private open(call: Call): void {
    const c: Connection = { call, session: undefined, chain: Promise.resolve(), closed: false };
    this.connections.add(c);
    this.metrics.connections.inc();
    call.on("data", (m: ClientMessage) => {
      this.metrics.messagesIn.inc({ type: m.body?.$case ?? "empty" });
      c.chain = c.chain
        .then(() => (c.closed ? undefined : this.handle(c, m)))
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
      // After what the connection already queued (an order being placed is published first).
      c.chain = c.chain
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

  /** A sequenced message: numbered, kept for resend, written when the session is connected. */
  private emit(s: Session, body: Body): void {
    s.lastOutbound += 1n;
    const message: ServerMessage = { seqNum: s.lastOutbound, body };
    s.kept.push(message);
    if (s.kept.length > this.keep) s.kept.splice(0, s.kept.length - this.keep);
    if (body.$case === "reject") this.metrics.rejects.inc({ code: body.value.error?.code ?? "" });
    if (body.$case === "executionReport" && body.value.execType === ExecType.REJECTED) {
      this.metrics.rejects.inc({ code: "EXECUTION_REJECTED" });
    }
    if (s.connection) this.write(s.connection, message.seqNum, body);
  }

  private reject(s: Session, refSeq: bigint, error: unknown, clOrdId = ""): void {
    const e =
      error instanceof Refused ? detail(error.code, error.message, error.field) : errorDetailOf(error);
    if (e.code === "INTERNAL") this.o.logger.error({ err: error }, "market-maker request failed");
    this.emit(s, { $case: "reject", value: { refSeqNum: refSeq, error: e, clOrdId } });
  }

  private resend(s: Session, from: bigint, to: bigint): void {
    const c = s.connection;
    if (!c) return;
    for (const m of s.kept) {
      if (m.seqNum >= from && (to === 0n || m.seqNum <= to) && m.body) {
        this.metrics.resent.inc();
        this.write(c, m.seqNum, m.body);
      }
    }
  }

  // ------------------------------------------------------------------------- inbound

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
    let s = this.sessions.get(l.apiKey);
    if (s && seqNum !== 1n && seqNum !== s.nextInbound) {
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
    }
    const previous = s.connection;
    if (previous) {
      // A new logon takes the session over (the old stream is ended without cancel-on-disconnect).
      this.finish(previous, true);
      if (!previous.call.writableEnded) previous.call.end();
    }
    s.nextInbound = seqNum + 1n;
    s.cancelOnDisconnect = l.cancelOnDisconnect;
    s.connection = c;
    c.session = s;
    this.metrics.sessions.inc();
    this.metrics.logons.inc({ result: "OK" });
    this.write(c, 0n, {
      $case: "logonAck",
      value: { sessionId: s.id, nextExpectedSeqNum: s.nextInbound, lastSeqNum: s.lastOutbound },
    });
    if (l.lastReceivedSeqNum < s.lastOutbound) this.resend(s, l.lastReceivedSeqNum + 1n, 0n);
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

  private own(s: Session, orderId: bigint, clOrdId: string, spec: MarketSpec): void {
    s.orders.set(orderId, { orderId, clOrdId, spec, open: true });
    s.clOrdIds.set(clOrdId, orderId);
    this.owners.set(orderId, s);
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

  private async newOrder(s: Session, seq: bigint, m: NewOrderSingle): Promise<void> {
    let claimed = false;
    try {
      if (m.clOrdId === "") throw new Refused("MISSING_FIELD", "cl_ord_id is required", "cl_ord_id");
      const v = validateOrder(this.o.markets, paramsOf(m));
      await this.checkClOrdId(s, v.spec.symbol, m.clOrdId);
      s.clOrdIds.set(m.clOrdId, undefined);
      claimed = true;
      await this.o.entry.countOrder(s.accountId);
      await this.o.entry.place(s.accountId, v, {
        wait: false,
        beforePublish: (orderId, commandId) => {
          this.own(s, orderId, m.clOrdId, v.spec);
          this.track(s, "new", commandId, m.clOrdId, seq);
        },
      });
    } catch (error) {
      // Refused before the engine: the ClOrdID may be used again (no order exists under it).
      if (claimed && s.clOrdIds.get(m.clOrdId) === undefined) s.clOrdIds.delete(m.clOrdId);
      this.reject(s, seq, error, m.clOrdId);
    }
  }

  /** The session's (or else the account's) open order with ClOrdID `orig` in `spec`'s market. */
  private async findOpen(s: Session, spec: MarketSpec, orig: string): Promise<bigint> {
    if (orig === "") throw new Refused("MISSING_FIELD", "orig_cl_ord_id is required", "orig_cl_ord_id");
    const id = s.clOrdIds.get(orig);
    const owned = id === undefined ? undefined : s.orders.get(id);
    if (owned && owned.spec.symbol === spec.symbol) {
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
      const commandId = `og-r-${newId}`;
      this.own(s, newId, m.clOrdId, spec);
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
        for (const o of s.orders.values()) if (o.open) symbols.add(o.spec.symbol);
      }
      const open =
        m.symbol === ""
          ? symbols.size
          : (await this.queries.openOrders(s.accountId, m.symbol)).length +
            [...s.orders.values()].filter((o) => o.open && o.spec.symbol === m.symbol).length;
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
    if (s.connection) return; // logged on again meanwhile
    for (const o of s.orders.values()) {
      if (!o.open) continue;
      const commandId = `og-c-${o.orderId}-cod-${randomToken(6)}`;
      this.track(s, "cod", commandId, "", 0n);
      this.metrics.codCancels.inc();
      await this.o.entry.command(
        o.spec,
        commandId,
        { $case: "cancel", value: { accountId: s.accountId, orderId: o.orderId, clientOrderId: "" } },
        false,
      );
    }
  }

  // ------------------------------------------------------------------------- engine events → reports

  /** The projection's listener: each durable batch's admitted events. */
  readonly onExecutions = (events: ExecutionEvent[]): void => {
    for (const e of events) {
      try {
        this.route(e);
      } catch (error) {
        this.o.logger.warn({ err: error }, "market-maker report failed");
      }
    }
  };

  private route(e: ExecutionEvent): void {
    const body = e.event;
    if (!body) return;
    const ctx = this.commands.get(e.header?.commandId ?? "");
    const time = e.header?.timeMs ?? 0n;
    const execBase = `${e.header?.shard ?? 0}-${e.header?.sequence ?? 0n}`;
    switch (body.$case) {
      case "accepted": {
        const o = body.value.order;
        const s = o && this.owners.get(o.orderId);
        if (o && s) this.report(s, e.symbol, o, ExecType.NEW, execBase, time, {});
        return;
      }
      case "trade": {
        const t = body.value;
        for (const [o, side] of [
          [t.maker, "m"],
          [t.taker, "t"],
        ] as const) {
          const s = o && this.owners.get(o.orderId);
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
        if (!s.orders.has(newOrder.orderId)) {
          const spec = this.o.markets.get(e.symbol);
          if (spec) this.own(s, newOrder.orderId, newOrder.clientOrderId, spec);
        }
        this.report(s, e.symbol, newOrder, ExecType.REPLACED, execBase, time, {
          origClOrdId: oldOrder.clientOrderId,
          text: body.value.keptPriority ? "PRIORITY_KEPT" : "PRIORITY_LOST",
        });
        return;
      }
      case "rejected": {
        if (!ctx) return;
        const { session: s } = ctx;
        const reason = body.value.reason;
        const text = body.value.message ? `${reason}: ${body.value.message}` : reason;
        if (ctx.kind === "new") {
          const o = body.value.order;
          const id = o?.orderId || s.clOrdIds.get(ctx.clOrdId);
          const owned = id === undefined ? undefined : s.orders.get(id);
          if (owned) owned.open = false;
          this.emit(s, {
            $case: "executionReport",
            value: {
              ...emptyReport(),
              orderId: id?.toString() ?? "",
              clOrdId: ctx.clOrdId,
              execId: execBase,
              execType: ExecType.REJECTED,
              ordStatus: "8",
              symbol: e.symbol,
              side: o?.side ?? 0,
              text,
              transactTimeMs: time,
            },
          });
        } else if (ctx.kind === "replace") {
          const id = s.clOrdIds.get(ctx.clOrdId);
          if (id !== undefined) this.disown(s, id, ctx.clOrdId);
          this.emit(s, {
            $case: "reject",
            value: { refSeqNum: ctx.refSeq, error: detail(reason, text), clOrdId: ctx.clOrdId },
          });
        } else if (ctx.kind !== "cod") {
          this.emit(s, {
            $case: "reject",
            value: { refSeqNum: ctx.refSeq, error: detail(reason, text), clOrdId: ctx.clOrdId },
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
    if (owned) owned.open = open;
    const spec = owned?.spec ?? this.o.markets.get(symbol);
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
