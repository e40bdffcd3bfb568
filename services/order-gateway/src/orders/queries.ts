/** Reads of the order/trade projection (og_orders, og_trades). */
import type pg from "pg";
import type { OrderRow, TradeRow } from "./views.ts";

const ORDER_COLUMNS = `order_id::text, symbol, account_id, client_order_id, side, type, time_in_force, price::text,
  quantity::text, filled_quantity::text, filled_quote::text, status, stop_price::text, stp, quote_order_qty::text,
  created_ms::text, updated_ms::text, working_ms::text`;

// biome-ignore lint/suspicious/noExplicitAny: pg rows
function orderRow(r: any): OrderRow {
  return {
    orderId: BigInt(r.order_id),
    symbol: r.symbol,
    accountId: r.account_id,
    clientOrderId: r.client_order_id,
    side: r.side,
    type: r.type,
    timeInForce: r.time_in_force,
    price: BigInt(r.price),
    quantity: BigInt(r.quantity),
    filledQuantity: BigInt(r.filled_quantity),
    filledQuote: BigInt(r.filled_quote),
    status: r.status,
    stopPrice: BigInt(r.stop_price),
    stp: r.stp,
    quoteOrderQty: BigInt(r.quote_order_qty),
    createdMs: Number(r.created_ms),
    updatedMs: Number(r.updated_ms),
    workingMs: Number(r.working_ms),
  };
}

// biome-ignore lint/suspicious/noExplicitAny: pg rows
function tradeRow(r: any): TradeRow {
  return {
    symbol: r.symbol,
    tradeId: BigInt(r.trade_id),
    orderId: BigInt(r.order_id),
    isBuyer: r.is_buyer,
    isMaker: r.is_maker,
    price: BigInt(r.price),
    quantity: BigInt(r.quantity),
    commission: BigInt(r.commission),
    commissionAsset: r.commission_asset,
    commissionDecimals: r.commission_dec,
    timeMs: Number(r.time_ms),
  };
}

export class OrderQueries {
  constructor(private readonly pool: pg.Pool) {}

  async order(
    accountId: string,
    symbol: string,
    by: { orderId?: bigint; clientOrderId?: string },
  ): Promise<OrderRow | undefined> {
    const { rows } =
      by.orderId !== undefined
        ? await this.pool.query(
            `select ${ORDER_COLUMNS} from og_orders where account_id = $1 and symbol = $2 and order_id = $3`,
            [accountId, symbol, by.orderId.toString()],
          )
        : await this.pool.query(
            `select ${ORDER_COLUMNS} from og_orders where account_id = $1 and symbol = $2 and client_order_id = $3
             order by order_id desc limit 1`,
            [accountId, symbol, by.clientOrderId],
          );
    return rows[0] ? orderRow(rows[0]) : undefined;
  }

  async openOrders(accountId: string, symbol?: string): Promise<OrderRow[]> {
    const { rows } = await this.pool.query(
      `select ${ORDER_COLUMNS} from og_orders where account_id = $1 and status in (1, 2, 8)
         and ($2::text is null or symbol = $2) order by order_id`,
      [accountId, symbol ?? null],
    );
    return rows.map(orderRow);
  }

  async allOrders(
    accountId: string,
    symbol: string,
    f: { orderId?: bigint; startTime?: number; endTime?: number; limit: number },
  ): Promise<OrderRow[]> {
    const ascending = f.orderId !== undefined || f.startTime !== undefined;
    const { rows } = await this.pool.query(
      `select ${ORDER_COLUMNS} from og_orders where account_id = $1 and symbol = $2
         and ($3::bigint is null or order_id >= $3) and ($4::bigint is null or created_ms >= $4)
         and ($5::bigint is null or created_ms <= $5)
       order by order_id ${ascending ? "asc" : "desc"} limit $6`,
      [accountId, symbol, f.orderId?.toString() ?? null, f.startTime ?? null, f.endTime ?? null, f.limit],
    );
    const list = rows.map(orderRow);
    return ascending ? list : list.reverse();
  }

  async trades(
    accountId: string,
    symbol: string,
    f: { orderId?: bigint; fromId?: bigint; startTime?: number; endTime?: number; limit: number },
  ): Promise<TradeRow[]> {
    const ascending = f.fromId !== undefined || f.startTime !== undefined;
    const { rows } = await this.pool.query(
      `select symbol, trade_id::text, order_id::text, is_buyer, is_maker, price::text, quantity::text,
              commission::text, commission_asset, commission_dec, time_ms::text
         from og_trades where account_id = $1 and symbol = $2
         and ($3::bigint is null or order_id = $3) and ($4::bigint is null or trade_id >= $4)
         and ($5::bigint is null or time_ms >= $5) and ($6::bigint is null or time_ms <= $6)
       order by trade_id ${ascending ? "asc" : "desc"}, is_maker limit $7`,
      [
        accountId,
        symbol,
        f.orderId?.toString() ?? null,
        f.fromId?.toString() ?? null,
        f.startTime ?? null,
        f.endTime ?? null,
        f.limit,
      ],
    );
    const list = rows.map(tradeRow);
    return ascending ? list : list.reverse();
  }
}
