/**
 * Binance WebSocket market streams on the gateway's HTTP server:
 *   /ws/<stream>[/<stream>...]   raw payloads (segments without "@" subscribe nothing, as Binance)
 *   /stream?streams=<a>/<b>      combined: {"stream": <name>, "data": <payload>}
 * Live control messages: {"method": "SUBSCRIBE" | "UNSUBSCRIBE", "params": [...], "id": n} → {"result": null, "id": n};
 * {"method": "LIST_SUBSCRIPTIONS", "id": n} → {"result": [...], "id": n}. Errors as Binance:
 * {"error": {"code": n, "msg": "..."}, "id": n}.
 * Limits as Binance: 1024 streams per connection, 5 incoming messages per second (more → disconnect).
 * The server pings every `pingIntervalMs`; a connection without a pong for `pongTimeoutMs` is cut.
 */
import type { IncomingMessage, Server } from "node:http";
import type { Duplex } from "node:stream";
import type { Logger } from "@excraft/platform";
import { type RawData, type WebSocket, WebSocketServer } from "ws";
import { StreamConnection, type StreamHub } from "./hub.ts";
import { feedName, parseStream } from "./stream-names.ts";

export interface WsServerOptions {
  hub: StreamHub;
  logger: Logger;
  maxStreamsPerConnection?: number;
  maxMessagesPerSecond?: number;
  pingIntervalMs?: number;
  pongTimeoutMs?: number;
}

type Reply = { result: unknown; id: unknown } | { error: { code: number; msg: string }; id: unknown };

export class MarketStreamServer {
  // No permessage-deflate: compressing per connection would cost more than the whole fan-out, and the
  // hub writes pre-built frames to the sockets, which needs ws's sender to hold nothing back.
  private readonly wss = new WebSocketServer({
    noServer: true,
    maxPayload: 64 * 1024,
    perMessageDeflate: false,
  });
  private readonly alive = new Map<WebSocket, number>();
  private pingTimer: NodeJS.Timeout | undefined;
  /** Other WebSocket endpoints on the same port (e.g. the WebSocket API); true = handled. */
  private readonly otherUpgrades: ((request: IncomingMessage, socket: Duplex, head: Buffer) => boolean)[] =
    [];

  constructor(private readonly options: WsServerOptions) {}

  addUpgradeHandler(handler: (request: IncomingMessage, socket: Duplex, head: Buffer) => boolean): void {
    this.otherUpgrades.push(handler);
  }

  attach(server: Server): void {
    server.on("upgrade", (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      const url = new URL(request.url ?? "/", "http://localhost");
      const streams = this.streamsOf(url);
      if (streams === undefined) {
        for (const handler of this.otherUpgrades) if (handler(request, socket, head)) return;
        socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
        return;
      }
      const invalid = streams.find((s) => parseStream(s) === undefined);
      if (invalid !== undefined || streams.length > (this.options.maxStreamsPerConnection ?? 1024)) {
        socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
        return;
      }
      this.wss.handleUpgrade(request, socket, head, (ws) =>
        this.accept(ws, url.pathname.startsWith("/stream"), streams),
      );
    });
    const interval = this.options.pingIntervalMs ?? 20_000;
    const timeout = this.options.pongTimeoutMs ?? 60_000;
    this.pingTimer = setInterval(() => {
      const now = Date.now();
      for (const [ws, last] of this.alive) {
        if (now - last > timeout) ws.terminate();
        else ws.ping();
      }
    }, interval);
    this.pingTimer.unref();
  }

  close(): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.options.hub.closeAll(1001, "server shutting down");
    for (const ws of this.alive.keys()) ws.terminate();
    this.wss.close();
  }

  /** Stream names from the path, or undefined when the path is not a stream endpoint. */
  private streamsOf(url: URL): string[] | undefined {
    if (url.pathname === "/ws" || url.pathname === "/ws/") return [];
    if (url.pathname.startsWith("/ws/")) {
      // Binance opens `/ws/<segment>` whatever a segment without "@" is (a legacy listenKey, or the
      // connection number ccxt appends: `/ws/0`) and subscribes nothing for it; SUBSCRIBE follows.
      return url.pathname
        .slice(4)
        .split("/")
        .filter((segment) => segment.includes("@"));
    }
    if (url.pathname === "/stream" || url.pathname === "/stream/") {
      return (url.searchParams.get("streams") ?? "").split("/").filter(Boolean);
    }
    return undefined;
  }

  private accept(ws: WebSocket, combined: boolean, streams: string[]): void {
    const { hub } = this.options;
    const connection = new StreamConnection(ws, combined);
    hub.add(connection);
    for (const name of streams) hub.subscribe(connection, name, feedName(parseStream(name)!));
    this.alive.set(ws, Date.now());
    ws.on("pong", () => this.alive.set(ws, Date.now()));
    // ws answers the client's pings with pongs by itself.
    let windowStart = Date.now();
    let messages = 0;
    ws.on("message", (data: RawData, isBinary: boolean) => {
      const now = Date.now();
      if (now - windowStart >= 1_000) {
        windowStart = now;
        messages = 0;
      }
      if (++messages > (this.options.maxMessagesPerSecond ?? 5)) {
        hub.remove(connection);
        ws.close(1008, "too many messages");
        return;
      }
      const reply = this.control(connection, isBinary ? undefined : data.toString());
      hub.send(connection, JSON.stringify(reply));
    });
    const cleanup = () => {
      hub.remove(connection);
      this.alive.delete(ws);
    };
    ws.on("close", cleanup);
    ws.on("error", cleanup);
  }

  private control(connection: StreamConnection, text: string | undefined): Reply {
    let message: unknown;
    try {
      message = JSON.parse(text ?? "");
    } catch {
      return { error: { code: 3, msg: "Invalid JSON: expected value at line 1 column 1" }, id: null };
    }
    if (typeof message !== "object" || message === null || Array.isArray(message)) {
      return { error: { code: 2, msg: "Invalid request: request must be an object" }, id: null };
    }
    const { method, params, id } = message as { method?: unknown; params?: unknown; id?: unknown };
    if (
      id !== undefined &&
      id !== null &&
      !(typeof id === "number" && Number.isSafeInteger(id) && id >= 0) &&
      typeof id !== "string"
    ) {
      return { error: { code: 2, msg: "Invalid request: request ID must be an unsigned integer" }, id: null };
    }
    const replyId = id ?? null;
    if (method === undefined)
      return { error: { code: 2, msg: "Invalid request: missing field `method`" }, id: replyId };
    if (method === "LIST_SUBSCRIPTIONS") return { result: [...connection.streams.keys()], id: replyId };
    if (method !== "SUBSCRIBE" && method !== "UNSUBSCRIBE") {
      return {
        error: {
          code: 2,
          msg: `Invalid request: unknown variant \`${String(method)}\`, expected one of \`SUBSCRIBE\`, \`UNSUBSCRIBE\`, \`LIST_SUBSCRIPTIONS\`, \`SET_PROPERTY\`, \`GET_PROPERTY\``,
        },
        id: replyId,
      };
    }
    if (!Array.isArray(params) || params.some((p) => typeof p !== "string")) {
      return { error: { code: 2, msg: "Invalid request: params must be an array of strings" }, id: replyId };
    }
    const names = params as string[];
    const bad = names.find((n) => parseStream(n) === undefined);
    if (bad !== undefined)
      return { error: { code: 2, msg: `Invalid request: invalid stream name ${bad}` }, id: replyId };
    const { hub } = this.options;
    if (method === "SUBSCRIBE") {
      const total = new Set([...connection.streams.keys(), ...names]).size;
      if (total > (this.options.maxStreamsPerConnection ?? 1024)) {
        return { error: { code: 2, msg: "Invalid request: too many subscriptions" }, id: replyId };
      }
      for (const n of names) hub.subscribe(connection, n, feedName(parseStream(n)!));
    } else {
      for (const n of names) hub.unsubscribe(connection, n);
    }
    return { result: null, id: replyId };
  }
}
