import { type ExecutionEvent, type OrderState, OrderStatus, Side } from "@excraft/proto";
import { WalletError } from "./errors";
import { DEFAULT_MAKER_FEE_BPS, DEFAULT_TAKER_FEE_BPS } from "./fees";
import {
  type AssetInfo,
  EXTERNAL_ACCOUNT,
  FEE_ACCOUNT,
  type Layer,
  type MarketConfig,
  SYSTEM_PREFIX,
} from "./state";
import { feeOf, INT64_MAX, scaleExact, utcDay } from "./units";

/** A balance as the API returns it. */
export interface BalanceView {
  asset: string;
  free: bigint;
  locked: bigint;
}

export type FlowKind = "deposit" | "withdrawal" | "mint" | "adjust";

/** Every state change of the wallet is one of these, applied by the ledger's single writer. */
export type Command =
  | { kind: "reserve"; accountId: string; asset: string; amount: bigint; orderId: string }
  | { kind: "release"; accountId: string; orderId: string; amount: bigint }
  | {
      kind: "transfer";
      transferId: string;
      from: string;
      to: string;
      asset: string;
      amount: bigint;
      reason: string;
    }
  | {
      kind: "flow";
      flow: FlowKind;
      reference: string;
      accountId: string;
      asset: string;
      /** Signed for "adjust" (credit > 0, debit < 0); positive otherwise. */
      amount: bigint;
      reason: string;
      operator: string;
      /** Withdrawal only: pay it out of this order id's hold (locked) instead of free balance. */
      holdOrderId?: string;
    }
  | { kind: "executions"; stream: string; events: ExecutionEvent[] }
  | { kind: "market"; market: MarketConfig };

export interface ExecutionsResult {
  applied: number;
  skipped: number;
}

export type CommandResult = BalanceView | ExecutionsResult | null;

/** What evaluation needs besides the layered state: static reference data. */
export interface Reference {
  asset(symbol: string): AssetInfo | undefined;
  /** The fee rate in force at the trade's time `timeMs` (the fee schedule, see fees.ts). */
  feeBps(accountId: string, symbol: string, role: "maker" | "taker", timeMs: number): number;
  now(): bigint;
}

const FINAL_STATUSES = new Set<OrderStatus>([
  OrderStatus.FILLED,
  OrderStatus.CANCELED,
  OrderStatus.REJECTED,
  OrderStatus.EXPIRED,
  OrderStatus.EXPIRED_IN_MATCH,
]);

export const progressKey = (stream: string, shard: number): string => `${stream}#${shard}`;

function view(layer: Layer, accountId: string, asset: string): BalanceView {
  const b = layer.getBalance(accountId, asset);
  return { asset, free: b.free, locked: b.locked };
}

/**
 * Command kinds whose evaluation validates everything before its first change to the layer, so a
 * refused one leaves the layer as it was (only unchanged copies of what it read): the ledger evaluates
 * them directly in the batch layer instead of a layer of their own (the hot path: no per-command layer).
 */
export const IN_PLACE_KINDS: ReadonlySet<Command["kind"]> = new Set(["reserve", "release"]);

function requireFunds(
  layer: Layer,
  accountId: string,
  asset: string,
  bucket: "free" | "locked",
  amount: bigint,
) {
  const have = layer.getBalance(accountId, asset)[bucket];
  if (have < amount) {
    throw new WalletError(
      "INSUFFICIENT_BALANCE",
      `insufficient ${bucket} ${asset} balance in account ${accountId}: has ${have}, needs ${amount}`,
    );
  }
}

/** Applies one command to a layer. Throws WalletError for a refused command (the layer is then dropped). */
export function evaluate(cmd: Command, layer: Layer, ref: Reference): CommandResult {
  switch (cmd.kind) {
    case "reserve": {
      const hold = layer.getHold(cmd.orderId);
      if (hold) {
        if (hold.accountId !== cmd.accountId) {
          throw new WalletError(
            "PERMISSION_DENIED",
            `order ${cmd.orderId} belongs to another account`,
            "order_id",
          );
        }
        if (hold.asset !== cmd.asset || hold.amount !== cmd.amount) {
          throw new WalletError(
            "ALREADY_EXISTS",
            `order ${cmd.orderId} was already reserved with different asset or amount`,
            "order_id",
          );
        }
        return view(layer, cmd.accountId, cmd.asset); // idempotent replay
      }
      // Refuse before changing anything (the ledger evaluates reserve/release in place: IN_PLACE_KINDS).
      requireFunds(layer, cmd.accountId, cmd.asset, "free", cmd.amount);
      const entry = layer.entry(`reserve:${cmd.orderId}`, "reserve", ref.now());
      layer.post(entry, cmd.accountId, cmd.asset, "free", -cmd.amount);
      layer.post(entry, cmd.accountId, cmd.asset, "locked", cmd.amount);
      layer.setHold({
        orderId: cmd.orderId,
        accountId: cmd.accountId,
        asset: cmd.asset,
        amount: cmd.amount,
        remaining: cmd.amount,
        releases: 0,
      });
      return view(layer, cmd.accountId, cmd.asset);
    }
    case "release": {
      const hold = layer.getHold(cmd.orderId);
      if (!hold) throw new WalletError("NOT_FOUND", `no reservation for order ${cmd.orderId}`, "order_id");
      if (hold.accountId !== cmd.accountId) {
        throw new WalletError(
          "PERMISSION_DENIED",
          `order ${cmd.orderId} belongs to another account`,
          "order_id",
        );
      }
      const amount = cmd.amount === 0n ? hold.remaining : cmd.amount;
      if (amount > hold.remaining) {
        throw new WalletError(
          "FAILED_PRECONDITION",
          `cannot release ${amount}: only ${hold.remaining} ${hold.asset} is held for order ${cmd.orderId}`,
          "amount",
        );
      }
      requireFunds(layer, hold.accountId, hold.asset, "locked", amount);
      releaseHold(layer, hold.orderId, amount, ref.now());
      return view(layer, hold.accountId, hold.asset);
    }
    case "transfer": {
      const source = `transfer:${cmd.transferId}`;
      if (layer.hasSource(source)) return null; // idempotent replay
      if (!cmd.from.startsWith(SYSTEM_PREFIX) && !cmd.to.startsWith(SYSTEM_PREFIX)) {
        throw new WalletError(
          "PERMISSION_DENIED",
          "transfers must start or end at a system account (sys:…); user-to-user transfers are not allowed",
          "to_account_id",
        );
      }
      const entry = layer.entry(source, "transfer", ref.now());
      layer.post(entry, cmd.from, cmd.asset, "free", -cmd.amount);
      layer.post(entry, cmd.to, cmd.asset, "free", cmd.amount);
      return null;
    }
    case "flow": {
      const source = `${cmd.flow}:${cmd.reference}`;
      if (layer.hasSource(source)) return view(layer, cmd.accountId, cmd.asset); // idempotent replay
      const kind = cmd.flow === "adjust" ? (cmd.amount > 0n ? "adjust_credit" : "adjust_debit") : cmd.flow;
      const credit = kind === "deposit" || kind === "mint" || kind === "adjust_credit";
      const amount = cmd.amount < 0n ? -cmd.amount : cmd.amount;
      const entry = layer.entry(source, cmd.flow === "adjust" ? "adjust" : cmd.flow, ref.now());
      if (cmd.holdOrderId !== undefined) {
        const hold = layer.getHold(cmd.holdOrderId);
        if (
          !hold ||
          hold.accountId !== cmd.accountId ||
          hold.asset !== cmd.asset ||
          hold.remaining < amount
        ) {
          throw new WalletError(
            "FAILED_PRECONDITION",
            `hold ${cmd.holdOrderId} does not cover ${amount} ${cmd.asset}`,
          );
        }
        hold.remaining -= amount;
        hold.releases += 1;
        layer.post(entry, cmd.accountId, cmd.asset, "locked", -amount);
      } else layer.post(entry, cmd.accountId, cmd.asset, "free", credit ? amount : -amount);
      layer.post(entry, EXTERNAL_ACCOUNT, cmd.asset, "free", credit ? -amount : amount);
      layer.flows.push({
        entryId: entry,
        kind,
        accountId: cmd.accountId,
        asset: cmd.asset,
        amount,
        reference: cmd.reference,
        reason: cmd.reason,
        operator: cmd.operator,
      });
      return view(layer, cmd.accountId, cmd.asset);
    }
    case "market":
      layer.markets.set(cmd.market.symbol, cmd.market);
      return null;
    case "executions":
      return applyExecutions(cmd.stream, cmd.events, layer, ref);
  }
}

/** Moves `amount` of an order's hold back to free, as one journal entry (or as part of `entry`). */
function releaseHold(layer: Layer, orderId: string, amount: bigint, timeMs: bigint, entry?: bigint): void {
  const hold = layer.getHold(orderId);
  if (!hold || amount === 0n) return;
  const id = entry ?? layer.entry(`release:${orderId}:${hold.releases + 1}`, "release", timeMs);
  layer.post(id, hold.accountId, hold.asset, "locked", -amount);
  layer.post(id, hold.accountId, hold.asset, "free", amount);
  hold.remaining -= amount;
  hold.releases += 1;
}

function applyExecutions(
  stream: string,
  events: ExecutionEvent[],
  layer: Layer,
  ref: Reference,
): ExecutionsResult {
  let applied = 0;
  let skipped = 0;
  for (const ev of events) {
    const header = ev.header;
    if (!header) throw new Error("execution event without header");
    const key = progressKey(stream, header.shard);
    const seen = layer.getProgress(key);
    if (seen && (header.epoch < seen.epoch || header.sequence <= seen.sequence)) {
      skipped++; // duplicate, or from a fenced-off writer
      continue;
    }
    applyExecution(ev, layer, ref);
    // The newest event time settled bounds when a fee change may take effect (see Ledger.setFeeRate).
    const timeMs = seen && seen.timeMs > header.timeMs ? seen.timeMs : header.timeMs;
    layer.progress.set(key, { epoch: header.epoch, sequence: header.sequence, timeMs });
    applied++;
  }
  return { applied, skipped };
}

function orderIdOf(o: OrderState | undefined): string {
  if (!o) throw new Error("execution event without order state");
  return o.orderId.toString();
}

/** The hold ids and balance keys an execution event touches (for prefetching). */
export function executionOrderIds(ev: ExecutionEvent): string[] {
  const e = ev.event;
  if (!e) return [];
  switch (e.$case) {
    case "trade":
      return [orderIdOf(e.value.maker), orderIdOf(e.value.taker)];
    case "cancelled":
    case "expired":
    case "rejected":
      return [orderIdOf(e.value.order)];
    case "replaced":
      return [orderIdOf(e.value.oldOrder), orderIdOf(e.value.newOrder)];
    default:
      return [];
  }
}

function applyExecution(ev: ExecutionEvent, layer: Layer, ref: Reference): void {
  const e = ev.event;
  const header = ev.header!;
  if (!e) return;
  switch (e.$case) {
    case "marketChanged": {
      const spec = e.value.spec;
      if (!spec) return;
      const prev = layer.getMarket(spec.symbol);
      layer.markets.set(spec.symbol, {
        symbol: spec.symbol,
        baseAsset: spec.baseAsset,
        quoteAsset: spec.quoteAsset,
        priceScale: spec.priceScale,
        quantityScale: spec.quantityScale,
        makerFeeBps: prev?.makerFeeBps ?? DEFAULT_MAKER_FEE_BPS,
        takerFeeBps: prev?.takerFeeBps ?? DEFAULT_TAKER_FEE_BPS,
      });
      return;
    }
    case "trade":
      settleTrade(ev.symbol, e.value, header.timeMs, layer, ref);
      return;
    case "cancelled":
    case "expired":
    case "rejected": {
      const id = orderIdOf(e.value.order);
      const hold = layer.getHold(id);
      if (hold && hold.remaining > 0n) releaseHold(layer, id, hold.remaining, header.timeMs);
      return;
    }
    case "replaced": {
      // The new order inherits what is still held for the old one (no balance moves: it stays locked).
      const oldId = orderIdOf(e.value.oldOrder);
      const newId = orderIdOf(e.value.newOrder);
      const old = layer.getHold(oldId);
      if (!old || oldId === newId || old.remaining === 0n) return;
      const target = layer.getHold(newId);
      if (target && (target.accountId !== old.accountId || target.asset !== old.asset)) {
        releaseHold(layer, oldId, old.remaining, header.timeMs);
        return;
      }
      const moved = old.remaining;
      old.remaining = 0n;
      if (target) {
        target.amount += moved;
        target.remaining += moved;
      } else {
        layer.setHold({
          orderId: newId,
          accountId: old.accountId,
          asset: old.asset,
          amount: moved,
          remaining: moved,
          releases: 0,
        });
      }
      return;
    }
    default:
      return; // accepted, triggered: no money moves
  }
}

/** Balance keys a trade touches: buyer, seller and fee account, each in base and quote. */
export function tradeParties(ev: ExecutionEvent): string[] {
  const e = ev.event;
  if (e?.$case !== "trade") return [];
  return [e.value.maker?.accountId ?? "", e.value.taker?.accountId ?? "", FEE_ACCOUNT];
}

function settleTrade(
  symbol: string,
  t: {
    tradeId: bigint;
    price: bigint;
    quantity: bigint;
    buyerIsMaker: boolean;
    maker: OrderState | undefined;
    taker: OrderState | undefined;
  },
  timeMs: bigint,
  layer: Layer,
  ref: Reference,
): void {
  const source = `trade:${symbol}:${t.tradeId}`;
  if (layer.hasSource(source)) return; // already settled
  const market = layer.getMarket(symbol);
  if (!market)
    throw new Error(`trade ${source}: unknown market ${symbol} (no MarketChanged or configuration)`);
  const base = ref.asset(market.baseAsset);
  const quote = ref.asset(market.quoteAsset);
  if (!base || !quote) throw new Error(`trade ${source}: market ${symbol} uses an unknown asset`);
  const maker = t.maker!;
  const taker = t.taker!;
  const buyer = t.buyerIsMaker ? maker : taker;
  const seller = t.buyerIsMaker ? taker : maker;
  if (buyer.side !== Side.BUY && buyer.side !== Side.UNSPECIFIED) {
    throw new Error(`trade ${source}: buyer order ${buyer.orderId} is not a buy`);
  }
  if (t.price <= 0n || t.quantity <= 0n) {
    layer.exceptions.push({
      source,
      reason: "INVALID_TRADE",
      detail: `price ${t.price} quantity ${t.quantity}`,
    });
    return;
  }
  const baseAmt = scaleExact(t.quantity, market.quantityScale, base.decimals);
  const quoteAmt = scaleExact(t.price * t.quantity, market.priceScale + market.quantityScale, quote.decimals);
  if (baseAmt.ceil > INT64_MAX || quoteAmt.ceil > INT64_MAX) {
    layer.exceptions.push({
      source,
      reason: "OVERFLOW",
      detail: `base ${baseAmt.ceil} quote ${quoteAmt.ceil}`,
    });
    return;
  }
  // The rates in force at the trade's own time, whenever it is settled (or settled again).
  const tradeTimeMs = Number(timeMs);
  const buyerFee = feeOf(
    baseAmt.floor,
    ref.feeBps(buyer.accountId, symbol, t.buyerIsMaker ? "maker" : "taker", tradeTimeMs),
  );
  const sellerFee = feeOf(
    quoteAmt.floor,
    ref.feeBps(seller.accountId, symbol, t.buyerIsMaker ? "taker" : "maker", tradeTimeMs),
  );

  // Funding: from the order's hold first, then from free balance.
  const buyerHold = usableHold(layer, buyer, quote.symbol);
  const sellerHold = usableHold(layer, seller, base.symbol);
  const buyerFromHold = min(buyerHold?.remaining ?? 0n, quoteAmt.ceil);
  const sellerFromHold = min(sellerHold?.remaining ?? 0n, baseAmt.ceil);
  const buyerFromFree = quoteAmt.ceil - buyerFromHold;
  const sellerFromFree = baseAmt.ceil - sellerFromHold;
  const buyerFree = layer.getBalance(buyer.accountId, quote.symbol).free;
  const sellerFree = layer.getBalance(seller.accountId, base.symbol).free;
  if (buyerFromFree > buyerFree || sellerFromFree > sellerFree) {
    layer.exceptions.push({
      source,
      reason: "INSUFFICIENT_FUNDS",
      detail: `buyer ${buyer.accountId} needs ${quoteAmt.ceil} ${quote.symbol}, seller ${seller.accountId} needs ${baseAmt.ceil} ${base.symbol}`,
    });
    return;
  }

  const entry = layer.entry(source, "trade", timeMs);
  layer.post(entry, buyer.accountId, quote.symbol, "locked", -buyerFromHold);
  layer.post(entry, buyer.accountId, quote.symbol, "free", -buyerFromFree);
  if (buyerHold) buyerHold.remaining -= buyerFromHold;
  layer.post(entry, seller.accountId, base.symbol, "locked", -sellerFromHold);
  layer.post(entry, seller.accountId, base.symbol, "free", -sellerFromFree);
  if (sellerHold) sellerHold.remaining -= sellerFromHold;
  layer.post(entry, buyer.accountId, base.symbol, "free", baseAmt.floor - buyerFee);
  layer.post(entry, seller.accountId, quote.symbol, "free", quoteAmt.floor - sellerFee);
  const baseIncome = buyerFee + (baseAmt.ceil - baseAmt.floor);
  const quoteIncome = sellerFee + (quoteAmt.ceil - quoteAmt.floor);
  layer.post(entry, FEE_ACCOUNT, base.symbol, "free", baseIncome);
  layer.post(entry, FEE_ACCOUNT, quote.symbol, "free", quoteIncome);
  const day = utcDay(timeMs);
  layer.addFee(day, base.symbol, baseIncome);
  layer.addFee(day, quote.symbol, quoteIncome);

  // An order that is done no longer needs what is left of its hold.
  for (const o of [maker, taker]) {
    if (!FINAL_STATUSES.has(o.status)) continue;
    const hold = layer.getHold(o.orderId.toString());
    if (hold && hold.accountId === o.accountId && hold.remaining > 0n) {
      releaseHold(layer, hold.orderId, hold.remaining, timeMs, entry);
    }
  }
}

function usableHold(layer: Layer, order: OrderState, asset: string) {
  const hold = layer.getHold(order.orderId.toString());
  return hold && hold.accountId === order.accountId && hold.asset === asset ? hold : undefined;
}

const min = (a: bigint, b: bigint): bigint => (a < b ? a : b);
