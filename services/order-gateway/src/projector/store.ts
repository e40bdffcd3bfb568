/**
 * PostgreSQL persistence of the market-data projector (tables `md_*`, owned by the gateway).
 * One transaction per consumed batch writes the new trades, aggregate trades, the touched klines
 * and the stream cursor (shard, epoch, sequence) together, so a re-delivered batch is recognised by
 * its sequences and changes nothing.
 */
import { withTransaction } from "@excraft/platform";
import type pg from "pg";
import { KLINE_INTERVALS, type KlineInterval } from "./intervals.ts";
import type { AggTrade, Kline, StreamCursor, Trade } from "./types.ts";

export interface BatchWrite {
  topic: string;
  shard: number;
  cursor: StreamCursor;
  trades: Trade[];
  aggTrades: AggTrade[];
  klines: Kline[];
}

export interface RangeQuery {
  startTime?: number;
  endTime?: number;
  limit: number;
}

const MIGRATION = `
create table if not exists md_cursors (
  topic text not null,
  shard integer not null,
  epoch bigint not null,
  sequence bigint not null,
  primary key (topic, shard)
);
create table if not exists md_trades (
  symbol text not null,
  trade_id bigint not null,
  price bigint not null,
  qty bigint not null,
  quote_qty numeric(60, 0) not null,
  time_ms bigint not null,
  buyer_is_maker boolean not null,
  primary key (symbol, trade_id)
);
create index if not exists md_trades_time on md_trades (symbol, time_ms);
create table if not exists md_agg_trades (
  symbol text not null,
  agg_id bigint not null,
  price bigint not null,
  qty numeric(60, 0) not null,
  first_trade_id bigint not null,
  last_trade_id bigint not null,
  time_ms bigint not null,
  buyer_is_maker boolean not null,
  primary key (symbol, agg_id)
);
create index if not exists md_agg_trades_time on md_agg_trades (symbol, time_ms);
create table if not exists md_klines (
  symbol text not null,
  interval text not null,
  open_time bigint not null,
  close_time bigint not null,
  open bigint not null,
  high bigint not null,
  low bigint not null,
  close bigint not null,
  volume numeric(60, 0) not null,
  quote_volume numeric(60, 0) not null,
  trades bigint not null,
  taker_buy_volume numeric(60, 0) not null,
  taker_buy_quote_volume numeric(60, 0) not null,
  first_trade_id bigint not null,
  last_trade_id bigint not null,
  primary key (symbol, interval, open_time)
);
`;

export class MarketDataStore {
  constructor(private readonly pool: pg.Pool) {}

  async migrate(): Promise<void> {
    const client = await this.pool.connect();
    try {
      // Serialise concurrent migrations (several gateway processes starting at once).
      await client.query("select pg_advisory_lock(hashtext('md_migrate'))");
      await client.query(MIGRATION);
      await client.query("select pg_advisory_unlock(hashtext('md_migrate'))");
    } finally {
      client.release();
    }
  }

  async cursors(topic: string): Promise<Map<number, StreamCursor>> {
    const result = await this.pool.query<{ shard: number; epoch: string; sequence: string }>(
      "select shard, epoch::text, sequence::text from md_cursors where topic = $1",
      [topic],
    );
    return new Map(
      result.rows.map((r) => [r.shard, { epoch: BigInt(r.epoch), sequence: BigInt(r.sequence) }]),
    );
  }

  /**
   * Writes one batch atomically. Returns false (writing nothing) when the stored cursor already
   * covers the batch: another writer, or an earlier delivery, applied it.
   */
  async write(batch: BatchWrite): Promise<boolean> {
    return withTransaction(this.pool, async (client) => {
      const stored = await client.query<{ epoch: string; sequence: string }>(
        "select epoch::text, sequence::text from md_cursors where topic = $1 and shard = $2 for update",
        [batch.topic, batch.shard],
      );
      const row = stored.rows[0];
      if (row && BigInt(row.sequence) >= batch.cursor.sequence && BigInt(row.epoch) >= batch.cursor.epoch) {
        return false; // nothing written: committing the read is the same as rolling it back
      }
      if (batch.trades.length > 0) {
        const t = batch.trades;
        await client.query(
          `insert into md_trades (symbol, trade_id, price, qty, quote_qty, time_ms, buyer_is_maker)
           select * from unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::numeric[], $6::bigint[], $7::boolean[])
           on conflict do nothing`,
          [
            t.map((x) => x.symbol),
            t.map((x) => x.id),
            t.map((x) => x.price.toString()),
            t.map((x) => x.qty.toString()),
            t.map((x) => x.quoteQty.toString()),
            t.map((x) => x.time),
            t.map((x) => x.buyerIsMaker),
          ],
        );
      }
      if (batch.aggTrades.length > 0) {
        const a = batch.aggTrades;
        await client.query(
          `insert into md_agg_trades (symbol, agg_id, price, qty, first_trade_id, last_trade_id, time_ms, buyer_is_maker)
           select * from unnest($1::text[], $2::bigint[], $3::bigint[], $4::numeric[], $5::bigint[], $6::bigint[], $7::bigint[], $8::boolean[])
           on conflict do nothing`,
          [
            a.map((x) => x.symbol),
            a.map((x) => x.id),
            a.map((x) => x.price.toString()),
            a.map((x) => x.qty.toString()),
            a.map((x) => x.firstTradeId),
            a.map((x) => x.lastTradeId),
            a.map((x) => x.time),
            a.map((x) => x.buyerIsMaker),
          ],
        );
      }
      if (batch.klines.length > 0) {
        const k = batch.klines;
        const s = (f: (x: Kline) => bigint | number) => k.map((x) => f(x).toString());
        await client.query(
          `insert into md_klines (symbol, interval, open_time, close_time, open, high, low, close, volume,
             quote_volume, trades, taker_buy_volume, taker_buy_quote_volume, first_trade_id, last_trade_id)
           select * from unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[],
             $7::bigint[], $8::bigint[], $9::numeric[], $10::numeric[], $11::bigint[], $12::numeric[],
             $13::numeric[], $14::bigint[], $15::bigint[])
           on conflict (symbol, interval, open_time) do update set
             close_time = excluded.close_time, open = excluded.open, high = excluded.high, low = excluded.low,
             close = excluded.close, volume = excluded.volume, quote_volume = excluded.quote_volume,
             trades = excluded.trades, taker_buy_volume = excluded.taker_buy_volume,
             taker_buy_quote_volume = excluded.taker_buy_quote_volume,
             first_trade_id = excluded.first_trade_id, last_trade_id = excluded.last_trade_id`,
          [
            k.map((x) => x.symbol),
            k.map((x) => x.interval),
            s((x) => x.openTime),
            s((x) => x.closeTime),
            s((x) => x.open),
            s((x) => x.high),
            s((x) => x.low),
            s((x) => x.close),
            s((x) => x.volume),
            s((x) => x.quoteVolume),
            s((x) => x.trades),
            s((x) => x.takerBuyVolume),
            s((x) => x.takerBuyQuoteVolume),
            s((x) => x.firstTradeId),
            s((x) => x.lastTradeId),
          ],
        );
      }
      await client.query(
        `insert into md_cursors (topic, shard, epoch, sequence) values ($1, $2, $3, $4)
         on conflict (topic, shard) do update set epoch = excluded.epoch, sequence = excluded.sequence`,
        [batch.topic, batch.shard, batch.cursor.epoch.toString(), batch.cursor.sequence.toString()],
      );
      return true;
    });
  }

  /** Most recent trades, oldest first. */
  async recentTrades(symbol: string, limit: number): Promise<Trade[]> {
    const result = await this.pool.query(
      `select * from (select * from md_trades where symbol = $1 order by trade_id desc limit $2) t order by trade_id`,
      [symbol, limit],
    );
    return result.rows.map(tradeFromRow);
  }

  async aggTrades(symbol: string, query: RangeQuery & { fromId?: number }): Promise<AggTrade[]> {
    const { fromId, startTime, endTime, limit } = query;
    let result: pg.QueryResult;
    if (fromId !== undefined) {
      result = await this.pool.query(
        "select * from md_agg_trades where symbol = $1 and agg_id >= $2 order by agg_id limit $3",
        [symbol, fromId, limit],
      );
    } else if (startTime !== undefined || endTime !== undefined) {
      result = await this.pool.query(
        `select * from md_agg_trades where symbol = $1 and time_ms >= $2 and time_ms <= $3
         order by agg_id limit $4`,
        [symbol, startTime ?? 0, endTime ?? Number.MAX_SAFE_INTEGER, limit],
      );
    } else {
      result = await this.pool.query(
        `select * from (select * from md_agg_trades where symbol = $1 order by agg_id desc limit $2) t
         order by agg_id`,
        [symbol, limit],
      );
    }
    return result.rows.map(aggFromRow);
  }

  /**
   * Klines, oldest first: from startTime on when given; otherwise the latest `limit` ones ending at
   * endTime (or now).
   */
  async klines(symbol: string, interval: KlineInterval, query: RangeQuery): Promise<Kline[]> {
    const { startTime, endTime, limit } = query;
    const result =
      startTime !== undefined
        ? await this.pool.query(
            `select * from md_klines where symbol = $1 and interval = $2 and open_time >= $3 and open_time <= $4
             order by open_time limit $5`,
            [symbol, interval, startTime, endTime ?? Number.MAX_SAFE_INTEGER, limit],
          )
        : await this.pool.query(
            `select * from (select * from md_klines where symbol = $1 and interval = $2 and open_time <= $3
             order by open_time desc limit $4) k order by open_time`,
            [symbol, interval, endTime ?? Number.MAX_SAFE_INTEGER, limit],
          );
    return result.rows.map(klineFromRow);
  }

  /** The state the projector resumes from. */
  async loadState(sinceMs: number): Promise<{
    lastTrades: Trade[];
    lastAggIds: Map<string, number>;
    latestKlines: Kline[];
    minuteKlines: Kline[];
  }> {
    const [trades, aggs, latest, minutes] = await Promise.all([
      this.pool.query("select distinct on (symbol) * from md_trades order by symbol, trade_id desc"),
      this.pool.query<{ symbol: string; id: string }>(
        "select symbol, max(agg_id)::text as id from md_agg_trades group by symbol",
      ),
      this.pool.query(
        "select distinct on (symbol, interval) * from md_klines order by symbol, interval, open_time desc",
      ),
      this.pool.query(
        "select * from md_klines where interval = '1m' and open_time >= $1 order by symbol, open_time",
        [sinceMs],
      ),
    ]);
    return {
      lastTrades: trades.rows.map(tradeFromRow),
      lastAggIds: new Map(aggs.rows.map((r) => [r.symbol, Number(r.id)])),
      latestKlines: latest.rows.map(klineFromRow).filter((k) => KLINE_INTERVALS.includes(k.interval)),
      minuteKlines: minutes.rows.map(klineFromRow),
    };
  }
}

// pg returns int8 and numeric as strings: converted exactly.
type Row = Record<string, string | boolean>;

function tradeFromRow(r: Row): Trade {
  return {
    symbol: r.symbol as string,
    id: Number(r.trade_id),
    price: BigInt(r.price as string),
    qty: BigInt(r.qty as string),
    quoteQty: BigInt(r.quote_qty as string),
    time: Number(r.time_ms),
    buyerIsMaker: r.buyer_is_maker as boolean,
  };
}

function aggFromRow(r: Row): AggTrade {
  return {
    symbol: r.symbol as string,
    id: Number(r.agg_id),
    price: BigInt(r.price as string),
    qty: BigInt(r.qty as string),
    firstTradeId: Number(r.first_trade_id),
    lastTradeId: Number(r.last_trade_id),
    time: Number(r.time_ms),
    buyerIsMaker: r.buyer_is_maker as boolean,
  };
}

function klineFromRow(r: Row): Kline {
  return {
    symbol: r.symbol as string,
    interval: r.interval as KlineInterval,
    openTime: Number(r.open_time),
    closeTime: Number(r.close_time),
    open: BigInt(r.open as string),
    high: BigInt(r.high as string),
    low: BigInt(r.low as string),
    close: BigInt(r.close as string),
    volume: BigInt(r.volume as string),
    quoteVolume: BigInt(r.quote_volume as string),
    trades: Number(r.trades),
    takerBuyVolume: BigInt(r.taker_buy_volume as string),
    takerBuyQuoteVolume: BigInt(r.taker_buy_quote_volume as string),
    firstTradeId: Number(r.first_trade_id),
    lastTradeId: Number(r.last_trade_id),
  };
}
