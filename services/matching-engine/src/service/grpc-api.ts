/**
 * gRPC `MatchingEngine`: the engine's read side (writes only go through orders.v1).
 * Answers from the live state machine of the shard this process leads; UNAVAILABLE otherwise.
 */
import { GrpcError } from "@excraft/platform";
import {
  type BookSnapshot,
  type GetOrderBookRequest,
  type GetOrderRequest,
  type GetOrderResponse,
  type ListMarketsResponse,
  MatchingEngineService,
  type PriceLevel,
  Side,
} from "@excraft/proto";
import { status } from "@grpc/grpc-js";
import type { LevelRecord } from "../book/types.ts";
import { orderStateFromRecord, specToProto } from "./proto-mapping.ts";
import type { ShardProcessor } from "./shard-processor.ts";

const DEFAULT_DEPTH = 100;
const MAX_DEPTH = 5_000;

export interface MatchingEngineApi {
  getOrderBook(request: GetOrderBookRequest): BookSnapshot;
  getOrder(request: GetOrderRequest): GetOrderResponse;
  listMarkets(): ListMarketsResponse;
}

/** The queries, over whichever shard processors this process currently leads. */
export function createMatchingEngineApi(processors: () => ShardProcessor[]): MatchingEngineApi {
  const find = (symbol: string) => {
    for (const processor of processors()) {
      const book = processor.engine.book(symbol);
      if (book) return { processor, book };
    }
    if (processors().length === 0) throw new GrpcError(status.UNAVAILABLE, "engine is not active yet");
    throw new GrpcError(status.NOT_FOUND, `unknown symbol ${JSON.stringify(symbol)}`, {
      code: "UNKNOWN_SYMBOL",
      field: "symbol",
    });
  };
  return {
    getOrderBook(request) {
      if (request.depth > MAX_DEPTH) {
        throw new GrpcError(status.INVALID_ARGUMENT, `depth must be at most ${MAX_DEPTH}`, {
          code: "INVALID_DEPTH",
          field: "depth",
        });
      }
      const { processor, book } = find(request.symbol);
      const depth = request.depth === 0 ? DEFAULT_DEPTH : request.depth;
      return {
        symbol: request.symbol,
        lastUpdateId: BigInt(processor.lastUpdateId(book.marketId)),
        bids: book.levels(Side.BUY, depth).map(toLevel),
        asks: book.levels(Side.SELL, depth).map(toLevel),
      };
    },
    getOrder(request) {
      const { processor, book } = find(request.symbol);
      const account = processor.engine.accounts.lookup(request.accountId);
      const order =
        request.orderId !== 0n
          ? book.getOrder(Number(request.orderId))
          : book.openOrders().find((o) => o.account === account && o.clientOrderId === request.clientOrderId);
      if (order === undefined || (request.accountId !== "" && order.account !== account)) {
        throw new GrpcError(status.NOT_FOUND, "Order does not exist.", { code: "UNKNOWN_ORDER" });
      }
      return { order: orderStateFromRecord(order, processor.engine.accounts) };
    },
    listMarkets() {
      return {
        markets: processors().flatMap((processor) =>
          processor.engine.markets().map((book) => specToProto(book.spec, processor.shard)),
        ),
      };
    },
  };
}

/** Adapts the API to grpc-js's handler shape (the platform kit turns throws into statuses). */
export function matchingEngineHandlers(api: MatchingEngineApi) {
  type Callback<T> = (error: null, value: T) => void;
  return {
    getOrderBook: (call: { request: GetOrderBookRequest }, callback: Callback<BookSnapshot>) =>
      callback(null, api.getOrderBook(call.request)),
    getOrder: (call: { request: GetOrderRequest }, callback: Callback<GetOrderResponse>) =>
      callback(null, api.getOrder(call.request)),
    listMarkets: (_call: unknown, callback: Callback<ListMarketsResponse>) =>
      callback(null, api.listMarkets()),
  };
}

/**
 * The `MatchingEngine` registration for `createGrpcServer`, answering from `engine` while it leads
 * its shard (UNAVAILABLE otherwise).
 */
export function matchingEngineService(engine: { processor: ShardProcessor | undefined; status: string }) {
  return {
    definition: MatchingEngineService,
    implementation: matchingEngineHandlers(
      createMatchingEngineApi(() =>
        engine.processor && engine.status === "active" ? [engine.processor] : [],
      ),
    ),
  };
}

function toLevel(level: LevelRecord): PriceLevel {
  return { price: BigInt(level.price), quantity: BigInt(level.quantity) };
}
