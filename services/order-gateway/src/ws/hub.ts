/**
 * Fan-out of market streams to WebSocket connections. A payload is serialised once per feed (and
 * once per distinct client-facing name for combined streams), whatever the number of subscribers.
 *
 * Backpressure: before each send the connection's `bufferedAmount` is checked; over `maxBufferedBytes`
 * the connection is closed as a slow consumer (close code 1008, reason "slow consumer") and dropped at
 * once, so memory per connection is bounded by the limit plus one message.
 */
import type { WebSocket } from "ws";
import type { GatewayMetrics } from "../metrics.ts";

export interface HubOptions {
  maxBufferedBytes: number;
  metrics: GatewayMetrics;
}

export class StreamConnection {
  /** client-facing stream name → feed name */
  readonly streams = new Map<string, string>();
  closed = false;

  constructor(
    readonly ws: WebSocket,
    /** `/stream` connections wrap payloads as {"stream","data"}. */
    readonly combined: boolean,
  ) {}
}

export class StreamHub {
  private readonly feeds = new Map<string, Map<StreamConnection, string>>();
  private readonly connections = new Set<StreamConnection>();

  constructor(private readonly options: HubOptions) {}

  get connectionCount(): number {
    return this.connections.size;
  }

  add(connection: StreamConnection): void {
    this.connections.add(connection);
    this.options.metrics.wsConnections.set(this.connections.size);
  }

  remove(connection: StreamConnection): void {
    if (!this.connections.delete(connection)) return;
    connection.closed = true;
    for (const [name, feed] of connection.streams) {
      void name;
      this.feeds.get(feed)?.delete(connection);
      if (this.feeds.get(feed)?.size === 0) this.feeds.delete(feed);
    }
    connection.streams.clear();
    this.options.metrics.wsConnections.set(this.connections.size);
  }

  subscribe(connection: StreamConnection, name: string, feed: string): void {
    if (connection.streams.has(name)) return;
    connection.streams.set(name, feed);
    let subscribers = this.feeds.get(feed);
    if (!subscribers) {
      subscribers = new Map();
      this.feeds.set(feed, subscribers);
    }
    subscribers.set(connection, name);
  }

  unsubscribe(connection: StreamConnection, name: string): void {
    const feed = connection.streams.get(name);
    if (feed === undefined) return;
    connection.streams.delete(name);
    const subscribers = this.feeds.get(feed);
    subscribers?.delete(connection);
    if (subscribers?.size === 0) this.feeds.delete(feed);
  }

  has(feed: string): boolean {
    return this.feeds.has(feed);
  }

  /** Feeds with at least one subscriber. */
  activeFeeds(): IterableIterator<string> {
    return this.feeds.keys();
  }

  /** Sends `data` (built only when someone listens) to every subscriber of the feed. */
  publish(feed: string, data: unknown | (() => unknown)): void {
    const subscribers = this.feeds.get(feed);
    if (!subscribers || subscribers.size === 0) return;
    const raw = JSON.stringify(typeof data === "function" ? (data as () => unknown)() : data);
    const wrapped = new Map<string, string>();
    for (const [connection, name] of subscribers) {
      let text = raw;
      if (connection.combined) {
        text = wrapped.get(name) ?? `{"stream":${JSON.stringify(name)},"data":${raw}}`;
        wrapped.set(name, text);
      }
      this.send(connection, text);
    }
  }

  /** Sends one text frame, or disconnects the connection when its send buffer is over the limit. */
  send(connection: StreamConnection, text: string): boolean {
    if (connection.closed) return false;
    if (connection.ws.bufferedAmount > this.options.maxBufferedBytes) {
      this.options.metrics.wsSlowConsumerDisconnects.inc();
      this.remove(connection);
      const ws = connection.ws;
      ws.close(1008, "slow consumer");
      // The close frame waits behind the unread data; a reader that never drains gets cut.
      setTimeout(() => ws.terminate(), 1_000).unref();
      return false;
    }
    connection.ws.send(text);
    this.options.metrics.wsMessagesSent.inc();
    return true;
  }

  closeAll(code: number, reason: string): void {
    for (const connection of [...this.connections]) {
      this.remove(connection);
      connection.ws.close(code, reason);
      setTimeout(() => connection.ws.terminate(), 1_000).unref();
    }
  }
}
