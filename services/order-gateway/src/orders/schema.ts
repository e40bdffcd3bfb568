/** The order-entry tables of the gateway's own PostgreSQL (created on start, idempotent). */
import type pg from "pg";

export const ORDER_ENTRY_DDL = `
create table if not exists api_keys (
  api_key     text primary key,
  account_id  text not null,
  label       text not null default '',
  secret_enc  bytea not null,
  permissions text[] not null,
  ip_allow    text[] not null default '{}',
  created_ms  bigint not null,
  revoked_ms  bigint
);
create index if not exists api_keys_account on api_keys (account_id);

create table if not exists og_orders (
  order_id        bigint primary key,
  symbol          text not null,
  account_id      text not null,
  client_order_id text not null,
  side            smallint not null,
  type            smallint not null,
  time_in_force   smallint not null,
  price           bigint not null,
  quantity        bigint not null,
  filled_quantity bigint not null,
  filled_quote    bigint not null,
  status          smallint not null,
  stop_price      bigint not null,
  stp             smallint not null,
  quote_order_qty bigint not null,
  created_ms      bigint not null,
  updated_ms      bigint not null,
  working_ms      bigint not null
);
create index if not exists og_orders_account on og_orders (account_id, symbol, order_id);
create index if not exists og_orders_client on og_orders (account_id, symbol, client_order_id);
create index if not exists og_orders_open on og_orders (account_id, symbol) where status in (1, 2, 8);

create table if not exists og_trades (
  symbol           text not null,
  trade_id         bigint not null,
  is_maker         boolean not null,
  order_id         bigint not null,
  account_id       text not null,
  is_buyer         boolean not null,
  price            bigint not null,
  quantity         bigint not null,
  commission       bigint not null,
  commission_asset text not null,
  commission_dec   smallint not null,
  time_ms          bigint not null,
  primary key (symbol, trade_id, is_maker)
);
create index if not exists og_trades_account on og_trades (account_id, symbol, trade_id);
create index if not exists og_trades_order on og_trades (order_id);

create table if not exists og_cursors (
  shard    integer primary key,
  epoch    numeric(20, 0) not null,
  sequence numeric(20, 0) not null
);

-- Reservations taken in the wallet whose order is not yet known to be in orders.v1.
create table if not exists og_reservations (
  order_id   bigint primary key,
  account_id text not null,
  symbol     text not null,
  created_ms bigint not null
);

-- Market-maker sessions (one per API key) outlive connections and gateway restarts.
create table if not exists og_mm_sessions (
  api_key              text primary key,
  account_id           text not null,
  session_id           text not null unique,
  next_inbound         bigint not null,
  last_outbound        bigint not null,
  cancel_on_disconnect boolean not null
);
-- Sequenced outbound messages (ExecutionReport, Reject) kept for ResendRequest: protobuf ServerMessage.
create table if not exists og_mm_messages (
  api_key text not null,
  seq_num bigint not null,
  message bytea not null,
  primary key (api_key, seq_num)
);
-- Open orders a session placed (its reports and cancel-on-disconnect); finished ones are deleted.
create table if not exists og_mm_orders (
  order_id  bigint primary key,
  api_key   text not null,
  cl_ord_id text not null,
  symbol    text not null,
  open      boolean not null
);
create index if not exists og_mm_orders_open on og_mm_orders (api_key) where open;
`;

export async function migrateOrderEntry(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query("select pg_advisory_lock(734201)");
    await client.query(ORDER_ENTRY_DDL);
    await client.query("select pg_advisory_unlock(734201)");
  } finally {
    client.release();
  }
}
