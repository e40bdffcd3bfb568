/**
 * Fan-out of market streams to WebSocket connections.
 *
 * A payload is serialised once per feed, and framed once (one RFC 6455 text frame in one Buffer) per
 * distinct client-facing form (raw, or `{"stream":<name>,"data":...}` per name for combined streams),
 * whatever the number of subscribers; every subscriber gets a reference to that same Buffer. Frames
 * are queued per connection and flushed once per event-loop turn (setImmediate): a burst of depth
 * and trade events goes out as one socket write per connection, and connections that received the
 * same frames in a turn share one concatenated Buffer. Frames are written to the connection's socket
 * directly (permessage-deflate is off on this server, so ws's own sender has nothing queued that they
 * could overtake); control replies take the same queue so they keep their order with the data.
 *
 * Backpressure: before each frame is queued, the connection's `bufferedAmount` plus what is queued
 * for this turn is checked; over `maxBufferedBytes` the connection is closed as a slow consumer (close
 * code 1008, reason "slow consumer") and dropped at once, so memory per connection is bounded by the
 * limit plus one message.
 */
import type { Socket } from "node:net";
import type { WebSocket } from "ws";
import type { GatewayMetrics } from "../metrics.ts";

export interface HubOptions {
  maxBufferedBytes: number;
  metrics: GatewayMetrics;
}

/** One text frame, shared by every connection it goes to; `id` tells frames apart when batching. */
interface Frame {
  id: number;
  bytes: Buffer;
}

export class StreamConnection {
  /** client-facing stream name → feed name */
  readonly streams = new Map<string, string>();
  closed = false;
  /** Frames queued for the next flush, and their size. */
  pending: Frame[] = [];
  pendingBytes = 0;
  /** The socket's `bufferedAmount` when the first of them was queued (it only drains meanwhile). */
  buffered = 0;

  constructor(
    readonly ws: WebSocket,
    /** `/stream` connections wrap payloads as {"stream","data"}. */
    readonly combined: boolean,
  ) {}
}

/** A final, unmasked text frame (RFC 6455 §5.2) around `payload`, in one Buffer. */
export function textFrame(payload: string): Buffer {
  const length = Buffer.byteLength(payload);
  const header = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(header + length);
  frame[0] = 0x81; // FIN + opcode 1 (text)
  if (header === 2) {
    frame[1] = length;
  } else if (header === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeBigUInt64BE(BigInt(length), 2);
  }
  frame.write(payload, header, "utf8");
  return frame;
}

export class StreamHub {
  private readonly feeds = new Map<string, Map<StreamConnection, string>>();
  private readonly connections = new Set<StreamConnection>();
  /** Connections with queued frames, flushed at the end of this event-loop turn. */
  private dirty: StreamConnection[] = [];
  private flushScheduled = false;
  private nextFrameId = 0;

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
    connection.pending = [];
    connection.pendingBytes = 0;
    for (const feed of connection.streams.values()) {
      const subscribers = this.feeds.get(feed);
      subscribers?.delete(connection);
      if (subscribers?.size === 0) this.feeds.delete(feed);
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

  /** Queues `data` (built only when someone listens) for every subscriber of the feed. */
  publish(feed: string, data: unknown | (() => unknown)): void {
    const subscribers = this.feeds.get(feed);
    if (!subscribers || subscribers.size === 0) return;
    const raw = JSON.stringify(typeof data === "function" ? (data as () => unknown)() : data);
    let rawFrame: Frame | undefined;
    // Combined connections almost all use the canonical name: one wrapped frame per name seen.
    let lastName: string | undefined;
    let lastWrapped: Frame | undefined;
    let wrapped: Map<string, Frame> | undefined;
    let sent = 0;
    for (const [connection, name] of subscribers) {
      let frame: Frame;
      if (!connection.combined) {
        rawFrame ??= this.frame(raw);
        frame = rawFrame;
      } else if (name === lastName) {
        frame = lastWrapped!;
      } else {
        wrapped ??= new Map();
        let f = wrapped.get(name);
        if (!f) {
          f = this.frame(`{"stream":${JSON.stringify(name)},"data":${raw}}`);
          wrapped.set(name, f);
        }
        lastName = name;
        lastWrapped = f;
        frame = f;
      }
      if (this.enqueue(connection, frame)) sent++;
    }
    this.options.metrics.wsMessagesSent.inc(sent);
  }

  /** Queues one text message (e.g. a control reply) for one connection. */
  send(connection: StreamConnection, text: string): boolean {
    const queued = this.enqueue(connection, this.frame(text));
    if (queued) this.options.metrics.wsMessagesSent.inc();
    return queued;
  }

  /** Writes every queued frame now (the hub does it by itself at the end of each event-loop turn). */
  flush(): void {
    this.flushScheduled = false;
    const dirty = this.dirty;
    if (dirty.length === 0) return;
    this.dirty = [];
    const endTimer = this.options.metrics.wsFlushSeconds.startTimer();
    // Connections that got the same frames this turn share one concatenated Buffer.
    const joined = new Map<string, Buffer>();
    for (const connection of dirty) {
      const frames = connection.pending;
      connection.pending = [];
      connection.pendingBytes = 0;
      if (connection.closed || frames.length === 0) continue;
      const ws = connection.ws;
      const socket = (ws as unknown as { _socket: Socket | null })._socket;
      // Closing (our close frame or the peer's) or gone: nothing more may follow.
      if (ws.readyState !== ws.OPEN || !socket?.writable) continue;
      if (frames.length === 1) {
        socket.write(frames[0]!.bytes);
        continue;
      }
      let key = String(frames[0]!.id);
      for (let i = 1; i < frames.length; i++) key += `,${frames[i]!.id}`;
      let bytes = joined.get(key);
      if (!bytes) {
        bytes = Buffer.concat(frames.map((f) => f.bytes));
        joined.set(key, bytes);
      }
      socket.write(bytes);
    }
    endTimer();
  }

  closeAll(code: number, reason: string): void {
    for (const connection of [...this.connections]) {
      this.remove(connection);
      connection.ws.close(code, reason);
      setTimeout(() => connection.ws.terminate(), 1_000).unref();
    }
  }

  private frame(text: string): Frame {
    return { id: this.nextFrameId++, bytes: textFrame(text) };
  }

  /** Queues a frame, or disconnects the connection when its buffers would go over the limit. */
  private enqueue(connection: StreamConnection, frame: Frame): boolean {
    if (connection.closed) return false;
    const ws = connection.ws;
    if (ws.readyState !== ws.OPEN) return false;
    if (connection.pending.length === 0) connection.buffered = ws.bufferedAmount;
    if (connection.buffered + connection.pendingBytes > this.options.maxBufferedBytes) {
      this.options.metrics.wsSlowConsumerDisconnects.inc();
      this.remove(connection);
      ws.close(1008, "slow consumer");
      // The close frame waits behind the unread data; a reader that never drains gets cut.
      setTimeout(() => ws.terminate(), 1_000).unref();
      return false;
    }
    if (connection.pending.length === 0) this.dirty.push(connection);
    connection.pending.push(frame);
    connection.pendingBytes += frame.bytes.length;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
    return true;
  }
}
