import {
  type ExecutionEvent,
  type OrderState,
  OrderStatus,
  OrderType,
  SelfTradePrevention,
  Side,
  TimeInForce,
  type TradeExecuted,
} from "@excraft/proto";
import { startPostgres, type TestPostgres } from "@excraft/testkit";
import pg from "pg";
import { Ledger, type LedgerOptions } from "../src/ledger";
import { migrate } from "../src/schema";

export const ASSETS = [
  { symbol: "BTC", decimals: 8, contractAddress: "" },
  { symbol: "USDT", decimals: 6, contractAddress: "" },
  { symbol: "ETH", decimals: 8, contractAddress: "" },
  { symbol: "EXT", decimals: 8, contractAddress: "" },
];

/** BTCUSDT: price in 0.01 USDT, quantity in 0.000001 BTC → quote = P·Q·10^(6−8): rounding path. */
export const BTCUSDT = {
  symbol: "BTCUSDT",
  baseAsset: "BTC",
  quoteAsset: "USDT",
  priceScale: 2,
  quantityScale: 6,
  makerFeeBps: 10,
  takerFeeBps: 20,
};
/** ETHUSDT: price in 0.01, quantity in 0.0001 → quote = P·Q·10^(6−6): exact. */
export const ETHUSDT = {
  symbol: "ETHUSDT",
  baseAsset: "ETH",
  quoteAsset: "USDT",
  priceScale: 2,
  quantityScale: 4,
  makerFeeBps: 0,
  takerFeeBps: 10,
};

export interface Harness {
  pgServer: TestPostgres;
  url: string;
  pool: pg.Pool;
  ledger: Ledger;
}

export async function startHarness(dbName: string, options: LedgerOptions = {}): Promise<Harness> {
  const pgServer = await startPostgres();
  const url = await pgServer.createDatabase(dbName);
  const pool = new pg.Pool({ connectionString: url, max: 8 });
  pool.on("error", () => {}); // idle clients see the server stop at teardown
  await migrate(pool);
  const ledger = await Ledger.open(pool, options);
  for (const a of ASSETS) await ledger.registerAsset(a);
  await ledger.configureMarket(BTCUSDT);
  await ledger.configureMarket(ETHUSDT);
  return { pgServer, url, pool, ledger };
}

export async function stopHarness(h: Harness | undefined): Promise<void> {
  if (!h) return;
  await h.ledger.close();
  await h.pool.end();
  await h.pgServer.stop();
}

export function order(
  p: Partial<OrderState> & { orderId: bigint; accountId: string; side: Side },
): OrderState {
  return {
    clientOrderId: "",
    type: OrderType.LIMIT,
    timeInForce: TimeInForce.GTC,
    price: 0n,
    quantity: 0n,
    filledQuantity: 0n,
    filledQuote: 0n,
    status: OrderStatus.NEW,
    stopPrice: 0n,
    selfTradePrevention: SelfTradePrevention.NONE,
    quoteOrderQty: 0n,
    createdTimeMs: 0n,
    ...p,
  };
}

export function header(sequence: bigint, opts: { shard?: number; epoch?: bigint; timeMs?: bigint } = {}) {
  return {
    shard: opts.shard ?? 0,
    sequence,
    epoch: opts.epoch ?? 1n,
    timeMs: opts.timeMs ?? 1_763_700_000_000n,
    commandId: `c${sequence}`,
    inputOffset: sequence,
  };
}

export function tradeEvent(
  sequence: bigint,
  symbol: string,
  t: TradeExecuted,
  opts: { shard?: number; epoch?: bigint; timeMs?: bigint } = {},
): ExecutionEvent {
  return { header: header(sequence, opts), symbol, event: { $case: "trade", value: t } };
}

export function cancelEvent(sequence: bigint, symbol: string, o: OrderState): ExecutionEvent {
  return {
    header: header(sequence),
    symbol,
    event: { $case: "cancelled", value: { order: o, reason: "USER" } },
  };
}

export { OrderStatus, Side };
