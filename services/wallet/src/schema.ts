import type pg from "pg";

/**
 * The wallet's PostgreSQL schema. Money columns are `bigint` minor units with CHECK constraints:
 * the database itself refuses a negative balance, a negative hold, or a zero posting.
 * The journal (journal_entries, legs as arrays; `postings` is a view) is append-only: a trigger
 * rejects UPDATE, DELETE and TRUNCATE, and a CHECK refuses an entry that does not balance.
 */
export const SCHEMA_SQL = `
create table if not exists assets (
  symbol text primary key check (symbol ~ '^[A-Z0-9]{1,20}$'),
  decimals integer not null check (decimals between 0 and 36),
  contract_address text not null default ''
);

create table if not exists balances (
  account_id text not null,
  asset text not null references assets(symbol),
  free bigint not null default 0 check (free >= 0),
  locked bigint not null default 0 check (locked >= 0),
  primary key (account_id, asset)
) with (fillfactor = 70); -- room for HOT updates: balances change in place, indexes untouched

-- One row per journal entry, its postings (legs) as parallel arrays. The database checks that the
-- entry balances: for every asset the amounts sum to zero, and no leg is zero.
create or replace function wallet_entry_balanced(assets text[], amounts bigint[]) returns boolean
language plpgsql immutable parallel safe as $$
declare
  n int := cardinality(amounts);
  s numeric;
begin
  if n < 2 or cardinality(assets) <> n then return false; end if;
  for i in 1..n loop
    if assets[i] = any(assets[1:i-1]) then continue; end if; -- first leg of each asset sums it
    s := 0;
    for j in i..n loop
      if assets[j] = assets[i] then s := s + amounts[j]; end if;
    end loop;
    if s <> 0 then return false; end if;
  end loop;
  return true;
end $$;

create table if not exists journal_entries (
  entry_id bigint primary key,
  source text not null,
  kind text not null check (kind in ('reserve','release','transfer','adjust','deposit','withdrawal','mint','trade')),
  time_ms bigint not null,
  accounts text[] not null,
  assets text[] not null,
  buckets text[] not null check (buckets <@ array['free','locked']),
  amounts bigint[] not null check (0 <> all(amounts)),
  check (cardinality(accounts) = cardinality(amounts) and cardinality(buckets) = cardinality(amounts)),
  -- two-leg entries (reserve, release, most transfers) are checked inline; others by the function
  check ((cardinality(amounts) = 2 and assets[1] = assets[2] and amounts[1] + amounts[2] = 0)
         or wallet_entry_balanced(assets, amounts))
);
-- Idempotency keys. Reserve/release sources ("reserve:<order>", "release:<order>:<n>") are unique by
-- construction through the holds table, so only the other kinds need (and pay for) the index.
create unique index if not exists journal_entries_source on journal_entries (source)
  where kind not in ('reserve','release');

create or replace view postings as
  select e.entry_id, p.account_id, p.asset, p.bucket, p.amount
  from journal_entries e
  cross join lateral unnest(e.accounts, e.assets, e.buckets, e.amounts) as p(account_id, asset, bucket, amount);

create or replace function wallet_append_only() returns trigger language plpgsql as $$
begin
  raise exception 'the journal is append-only (% on %)', tg_op, tg_table_name;
end $$;
do $$ begin
  if not exists (select 1 from pg_trigger where tgname = 'journal_entries_append_only') then
    create trigger journal_entries_append_only before update or delete or truncate on journal_entries
      for each statement execute function wallet_append_only();
  end if;
end $$;

create table if not exists holds (
  order_id text primary key,
  account_id text not null,
  asset text not null, -- validated by the writer (an FK check per reservation costs ~20% of a batch)
  amount bigint not null check (amount > 0),
  remaining bigint not null check (remaining >= 0 and remaining <= amount),
  releases integer not null default 0 check (releases >= 0)
) with (fillfactor = 80);

create table if not exists external_flows (
  entry_id bigint primary key,
  kind text not null check (kind in ('deposit','withdrawal','mint','adjust_credit','adjust_debit')),
  account_id text not null,
  asset text not null references assets(symbol),
  amount bigint not null check (amount > 0),
  reference text not null,
  reason text not null,
  operator text not null default ''
);

-- Deposit and withdrawal history per account (ListDeposits).
create index if not exists external_flows_account on external_flows (account_id, entry_id);

-- Markets and their scales. The fee columns hold the rates last given by configuration (informational);
-- the rates charged are in fee_schedule. fee_overrides is read only by the migration into fee_schedule.
create table if not exists markets (
  symbol text primary key,
  base_asset text not null,
  quote_asset text not null,
  price_scale integer not null check (price_scale between 0 and 36),
  quantity_scale integer not null check (quantity_scale between 0 and 36),
  maker_fee_bps integer not null check (maker_fee_bps between 0 and 10000),
  taker_fee_bps integer not null check (taker_fee_bps between 0 and 10000)
);

create table if not exists fee_overrides (
  account_id text not null,
  symbol text not null, -- '*' = every market
  maker_fee_bps integer not null check (maker_fee_bps between 0 and 10000),
  taker_fee_bps integer not null check (taker_fee_bps between 0 and 10000),
  primary key (account_id, symbol)
);

-- The fee schedule (fees.ts): every rate with the time it takes effect. Append-only, like the journal:
-- a trade is charged the entry in force at its own time, so the schedule must never be rewritten.
-- account_id '' = the market's own rates; otherwise an account's override in one market or in every
-- market (symbol '*'). Override entries without rates end the override.
create table if not exists fee_schedule (
  entry_id bigserial primary key,
  account_id text not null,
  symbol text not null,
  effective_from_ms bigint not null check (effective_from_ms >= 0),
  maker_fee_bps integer check (maker_fee_bps between 0 and 10000),
  taker_fee_bps integer check (taker_fee_bps between 0 and 10000),
  recorded_at_ms bigint not null,
  actor text not null,
  reason text not null,
  check ((maker_fee_bps is null) = (taker_fee_bps is null)),
  check (account_id <> '' or (symbol <> '*' and maker_fee_bps is not null)),
  unique (account_id, symbol, effective_from_ms)
);
do $$ begin
  if not exists (select 1 from pg_trigger where tgname = 'fee_schedule_append_only') then
    create trigger fee_schedule_append_only before update or delete or truncate on fee_schedule
      for each statement execute function wallet_append_only();
  end if;
end $$;
-- Rates kept before the schedule existed (markets.*_fee_bps, fee_overrides) become its first entries,
-- in force since the beginning: that version kept no history, so those are the only rates known.
-- Idempotent: only scopes that have no entry yet. Market rates count as set by the configuration.
insert into fee_schedule (account_id, symbol, effective_from_ms, maker_fee_bps, taker_fee_bps, recorded_at_ms, actor, reason)
  select '', m.symbol, 0, m.maker_fee_bps, m.taker_fee_bps, (extract(epoch from clock_timestamp()) * 1000)::bigint,
         'configuration', 'migrated: market rates before the fee schedule existed'
  from markets m
  where not exists (select 1 from fee_schedule s where s.account_id = '' and s.symbol = m.symbol)
  order by m.symbol;
insert into fee_schedule (account_id, symbol, effective_from_ms, maker_fee_bps, taker_fee_bps, recorded_at_ms, actor, reason)
  select o.account_id, o.symbol, 0, o.maker_fee_bps, o.taker_fee_bps, (extract(epoch from clock_timestamp()) * 1000)::bigint,
         'migration', 'account override before the fee schedule existed'
  from fee_overrides o
  where not exists (select 1 from fee_schedule s where s.account_id = o.account_id and s.symbol = o.symbol)
  order by o.account_id, o.symbol;

create table if not exists fee_daily (
  day date not null,
  asset text not null,
  amount bigint not null check (amount >= 0),
  primary key (day, asset)
);

create table if not exists consumer_progress (
  stream text not null,
  shard integer not null,
  epoch bigint not null,
  sequence bigint not null,
  primary key (stream, shard)
);
-- Newest event header time settled per shard: a fee change may only take effect after it.
alter table consumer_progress add column if not exists time_ms bigint not null default 0;

create table if not exists settlement_exceptions (
  source text primary key,
  reason text not null,
  detail text not null,
  recorded_at timestamptz not null default now()
);

create table if not exists kyc (
  account_id text primary key,
  status text not null check (status in ('none','pending','verified','rejected')),
  updated_at timestamptz not null default now()
);
create table if not exists kyc_history (
  id bigserial primary key,
  account_id text not null,
  status text not null,
  reason text not null,
  actor text not null,
  at timestamptz not null default now()
);

create table if not exists link_challenges (
  nonce text primary key,
  account_id text not null,
  address text not null,
  message text not null,
  expires_at timestamptz not null,
  used_at timestamptz
);
create table if not exists wallet_links (
  id bigserial primary key,
  account_id text not null,
  address text not null,
  nonce text not null unique,
  signature text not null,
  linked_at timestamptz not null default now(),
  unlinked_at timestamptz
);
create unique index if not exists wallet_links_one_per_account on wallet_links (account_id) where unlinked_at is null;
create unique index if not exists wallet_links_one_account_per_address on wallet_links (lower(address)) where unlinked_at is null;

create table if not exists publisher_progress (
  name text primary key,
  last_entry_id bigint not null
);

create or replace function wallet_fail(msg text) returns integer language plpgsql as $$
begin
  raise exception '%', msg;
end $$;
`;

/** Applies the schema (idempotent). Serialised with an advisory lock so two processes can start together. */
export async function migrate(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query("select pg_advisory_lock(4242001)");
    await client.query(SCHEMA_SQL);
  } finally {
    await client.query("select pg_advisory_unlock(4242001)").catch(() => {});
    client.release();
  }
}
