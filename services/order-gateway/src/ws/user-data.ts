/**
 * WebSocket API (`/ws-api/v3`, Binance's request/response framing) with the user data stream:
 *   {"id", "method": "userDataStream.subscribe.signature", "params": {apiKey, timestamp, [recvWindow], signature}}
 *     signature = hex HMAC-SHA256(secret, params except `signature` sorted by name, "k=v&k=v")
 *     → {"id", "status": 200, "result": {"subscriptionId": n}}
 *   "userDataStream.unsubscribe" ({subscriptionId} or all), "session.subscriptions", "ping", "time".
 * Events: {"subscriptionId": n, "event": {...}} with `executionReport` (from the order projection, after
 * each durable batch) and `outboundAccountPosition` (from the wallet's ledger.v1, balances after a change).
 * Errors: {"id", "status": 400|401, "error": {"code", "msg"}} with the REST codes and texts.
 */
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { Batch, EventLog, Subscription } from "@excraft/eventlog";
import type { Logger } from "@excraft/platform";
import { type ExecutionEvent, LedgerEvent, type OrderState } from "@excraft/proto";
import { type RawData, type WebSocket, WebSocketServer } from "ws";
import { formatUnits } from "../decimal.ts";
import { BinanceError, errors } from "../errors.ts";
import { price, qty, quote } from "../format.ts";
import { activeKey, type SignedOptions, verify } from "../http/signed.ts";
import type { MarketRegistry } from "../markets.ts";
import { commissionOf, type FeeRates } from "../orders/units.ts";
import { orderCore, orderJson, rowFromState } from "../orders/views.ts";

export const WS_API_PATH = "/ws-api/v3";

export interface UserDataOptions extends SignedOptions {
  markets: MarketRegistry;
  logger: Logger;
  eventLog: EventLog;
  /** Rates `accountId` pays in `symbol` (the wallet's, fetched by the projection for the batch). */
  /** The rates an account pays in a market at a trade's time (WalletReference.cachedFees). */
  feesOf: (accountId: string, symbol: string, timeMs: number) => FeeRates;
  decimalsOf: (asset: string) => number | undefined;
  /** ledger.v1 consumer group of this instance (from the end); undefined = no outboundAccountPosition. */
  ledgerGroupId?: string;
  ledgerTopic?: string;
  maxMessagesPerSecond?: number;
}

interface Session {
  ws: WebSocket;
  ip: string;
  next: number;
  /** subscriptionId → account. */
  subs: Map<number, string>;
}

export class UserDataServer {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  private readonly byAccount = new Map<string, Set<{ session: Session; id: number }>>();
  private readonly sessions = new Set<Session>();
  private ledger: Subscription | undefined;

  constructor(private readonly o: UserDataOptions) {}

  /** Upgrade routing: takes `/ws-api/v3` connections. */
  handleUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): boolean => {
    const url = new URL(request.url ?? "/", "http://localhost");
    if (url.pathname !== WS_API_PATH) return false;
    this.wss.handleUpgrade(request, socket, head, (ws) =>
      this.accept(ws, request.socket.remoteAddress ?? ""),
    );
    return true;
  };

  async start(): Promise<void> {
    if (this.o.ledgerGroupId === undefined) return;
    const topic = this.o.ledgerTopic ?? "ledger.v1";
    try {
      this.ledger = await this.o.eventLog.subscribe({
        topics: [topic],
        groupId: this.o.ledgerGroupId,
        fromBeginning: false,
        eachBatch: async (batch) => this.onLedger(batch),
      });
    } catch (error) {
      this.o.logger.warn({ err: error, topic }, "no ledger stream: outboundAccountPosition disabled");
    }
  }

  async stop(): Promise<void> {
    await this.ledger?.stop();
    for (const s of this.sessions) s.ws.terminate();
    this.wss.close();
  }

  private accept(ws: WebSocket, ip: string): void {
    const session: Session = { ws, ip, next: 0, subs: new Map() };
    this.sessions.add(session);
    let windowStart = Date.now();
    let messages = 0;
    ws.on("message", (data: RawData, isBinary: boolean) => {
      const t = Date.now();
      if (t - windowStart >= 1_000) {
        windowStart = t;
        messages = 0;
      }
      if (++messages > (this.o.maxMessagesPerSecond ?? 5)) {
        ws.close(1008, "too many messages");
        return;
      }
      void this.request(session, isBinary ? "" : data.toString()).then((reply) => this.send(session, reply));
    });
    const cleanup = () => {
      this.sessions.delete(session);
      for (const [id, account] of session.subs) this.unsubscribe(session, id, account);
    };
    ws.on("close", cleanup);
    ws.on("error", cleanup);
  }

  private send(session: Session, message: unknown): void {
    if (session.ws.readyState !== session.ws.OPEN) return;
    if (session.ws.bufferedAmount > 4 * 1024 * 1024) {
      session.ws.close(1008, "slow consumer");
      return;
    }
    session.ws.send(JSON.stringify(message));
  }

  private unsubscribe(session: Session, id: number, account: string): void {
    session.subs.delete(id);
    const set = this.byAccount.get(account);
    if (!set) return;
    for (const entry of set) if (entry.session === session && entry.id === id) set.delete(entry);
    if (set.size === 0) this.byAccount.delete(account);
  }

  private async request(session: Session, text: string): Promise<unknown> {
    let message: { id?: unknown; method?: unknown; params?: unknown };
    try {
      message = JSON.parse(text);
    } catch {
      return { id: null, status: 400, error: { code: -1000, msg: "Malformed request: invalid JSON." } };
    }
    const id = message?.id ?? null;
    try {
      const params = (
        typeof message.params === "object" && message.params !== null ? message.params : {}
      ) as Record<string, unknown>;
      switch (message.method) {
        case "ping":
          return { id, status: 200, result: {} };
        case "time":
          return { id, status: 200, result: { serverTime: this.o.now() } };
        case "session.subscriptions":
          return {
            id,
            status: 200,
            result: [...session.subs.keys()].map((subscriptionId) => ({ subscriptionId })),
          };
        case "userDataStream.subscribe.signature": {
          const map = new Map<string, string>();
          for (const [k, v] of Object.entries(params)) if (k !== "signature") map.set(k, String(v));
          const payload = [...map.keys()]
            .sort()
            .map((k) => `${k}=${map.get(k)}`)
            .join("&");
          const key = await activeKey(map.get("apiKey"), session.ip, this.o);
          const signature = typeof params.signature === "string" ? params.signature : undefined;
          const { key: ok } = verify(key, map, payload, signature, "read", this.o);
          const subscriptionId = session.next++;
          session.subs.set(subscriptionId, ok.accountId);
          let set = this.byAccount.get(ok.accountId);
          if (!set) {
            set = new Set();
            this.byAccount.set(ok.accountId, set);
          }
          set.add({ session, id: subscriptionId });
          return { id, status: 200, result: { subscriptionId } };
        }
        case "userDataStream.unsubscribe": {
          const which = params.subscriptionId;
          for (const [sid, account] of [...session.subs]) {
            if (which === undefined || which === sid) this.unsubscribe(session, sid, account);
          }
          return { id, status: 200, result: {} };
        }
        default:
          throw new BinanceError(
            400,
            -1100,
            "Illegal characters found in parameter 'method'; legal range is known methods.",
          );
      }
    } catch (error) {
      const e = error instanceof BinanceError ? error : errors.unknown();
      return { id, status: e.httpStatus, error: e.toJSON() };
    }
  }

  private push(account: string, event: unknown): void {
    const set = this.byAccount.get(account);
    if (!set) return;
    for (const { session, id } of set) this.send(session, { subscriptionId: id, event });
  }

  /** Admitted executions.v1 events, after the projection committed them. */
  onExecutions = (events: ExecutionEvent[]): void => {
    if (this.byAccount.size === 0) return;
    for (const e of events) {
      const time = Number(e.header?.timeMs ?? 0n);
      const body = e.event;
      switch (body?.$case) {
        case "accepted":
          this.report(e.symbol, body.value.order, "NEW", time);
          break;
        case "cancelled":
          this.report(e.symbol, body.value.order, "CANCELED", time);
          break;
        case "expired":
          this.report(
            e.symbol,
            body.value.order,
            body.value.reason === "STP" ? "TRADE_PREVENTION" : "EXPIRED",
            time,
          );
          break;
        case "trade": {
          const t = body.value;
          for (const [o, isMaker] of [
            [t.maker, true],
            [t.taker, false],
          ] as const) {
            this.report(e.symbol, o, "TRADE", time, {
              price: t.price,
              quantity: t.quantity,
              tradeId: t.tradeId,
              isMaker,
              buyerIsMaker: t.buyerIsMaker,
            });
          }
          break;
        }
        default:
          break;
      }
    }
  };

  private report(
    symbol: string,
    o: OrderState | undefined,
    execution: string,
    time: number,
    fill?: { price: bigint; quantity: bigint; tradeId: bigint; isMaker: boolean; buyerIsMaker: boolean },
  ): void {
    if (!o || !this.byAccount.has(o.accountId)) return;
    const spec = this.o.markets.get(symbol);
    if (!spec) return;
    const row = rowFromState(symbol, o, time);
    const core = orderCore(spec, row);
    const json = orderJson(spec, row);
    const c = fill
      ? commissionOf(
          spec,
          fill.price,
          fill.quantity,
          fill.isMaker === fill.buyerIsMaker,
          fill.isMaker,
          this.o.feesOf(o.accountId, symbol, time),
          this.o.decimalsOf,
        )
      : undefined;
    this.push(o.accountId, {
      e: "executionReport",
      E: time,
      s: symbol,
      c: o.clientOrderId,
      S: core.side,
      o: core.type,
      f: core.timeInForce,
      q: core.origQty,
      p: core.price,
      P: json.stopPrice,
      F: qty(spec, 0n),
      g: -1,
      C: "",
      x: execution,
      X: core.status,
      r: "NONE",
      i: Number(o.orderId),
      l: qty(spec, fill?.quantity ?? 0n),
      z: core.executedQty,
      L: price(spec, fill?.price ?? 0n),
      n: c ? formatUnits(c.amount, c.decimals) : "0",
      N: c ? c.asset : null,
      T: time,
      t: fill ? Number(fill.tradeId) : -1,
      I: 0,
      w: json.isWorking,
      m: fill?.isMaker ?? false,
      M: false,
      O: row.createdMs,
      Z: core.cummulativeQuoteQty,
      Y: quote(spec, fill ? fill.price * fill.quantity : 0n),
      Q: core.origQuoteOrderQty,
      W: json.workingTime,
      V: json.selfTradePreventionMode,
    });
  }

  private async onLedger(batch: Batch): Promise<void> {
    if (this.byAccount.size === 0) return;
    for (const record of batch.records) {
      if (!this.byAccount.has(record.key)) continue;
      let event: LedgerEvent;
      try {
        event = LedgerEvent.decode(record.value);
      } catch {
        continue;
      }
      const time = Number(event.timeMs);
      this.push(event.accountId, {
        e: "outboundAccountPosition",
        E: time,
        u: time,
        B: event.balances.map((b) => {
          const d = this.o.decimalsOf(b.asset) ?? 8;
          return { a: b.asset, f: formatUnits(b.free, d), l: formatUnits(b.locked, d) };
        }),
      });
    }
  }
}
