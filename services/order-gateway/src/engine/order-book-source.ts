/**
 * The gateway's view of the matching engine: the `MatchingEngine` gRPC read API (writes never go
 * this way). A small port so the routes and streams do not depend on grpc-js directly.
 */
import { type BookSnapshot, type MarketSpec, MatchingEngineClient } from "@excraft/proto";
import { credentials, Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { errors } from "../errors.ts";

export interface OrderBookSource {
  /** Top `depth` levels per side with the book's last update id. Throws BinanceError. */
  getOrderBook(symbol: string, depth: number): Promise<BookSnapshot>;
  listMarkets(): Promise<MarketSpec[]>;
  close(): void;
}

export interface GrpcOrderBookSourceOptions {
  /** `host:port` of a MatchingEngine server, or a ready client. */
  engine: string | MatchingEngineClient;
  /** Deadline of each call (default 2 s). */
  timeoutMs?: number;
}

export function grpcOrderBookSource(options: GrpcOrderBookSourceOptions): OrderBookSource {
  const owned = typeof options.engine === "string";
  const client =
    typeof options.engine === "string"
      ? new MatchingEngineClient(options.engine, credentials.createInsecure())
      : options.engine;
  const timeoutMs = options.timeoutMs ?? 2_000;
  const call = <T>(send: (deadline: Date, cb: (error: ServiceError | null, value: T) => void) => void) =>
    new Promise<T>((resolve, reject) =>
      send(new Date(Date.now() + timeoutMs), (error, value) => {
        if (!error) return resolve(value);
        reject(
          error.code === status.NOT_FOUND
            ? errors.badSymbol()
            : Object.assign(errors.disconnected(), { cause: error }),
        );
      }),
    );
  return {
    getOrderBook: (symbol, depth) =>
      call<BookSnapshot>((deadline, cb) =>
        client.getOrderBook({ symbol, depth }, new Metadata(), { deadline }, cb),
      ),
    listMarkets: async () =>
      (
        await call<{ markets: MarketSpec[] }>((deadline, cb) =>
          client.listMarkets({}, new Metadata(), { deadline }, cb),
        )
      ).markets,
    close: () => {
      if (owned) client.close();
    },
  };
}
