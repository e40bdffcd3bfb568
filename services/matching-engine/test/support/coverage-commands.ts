/**
 * A fixed orders.v1 stream that makes the engine emit every kind of output event and every encoding
 * corner: stop orders that trigger, self-trade prevention, halts, filter updates, rejects of every
 * origin (malformed, out of range, negative time, no body, unknown symbol), non-ASCII and long
 * strings, a fill quote beyond 2^53, and a sweep whose depth event is over 16 KiB.
 */
import {
  type MarketSpec,
  MarketStatus,
  OrderCommand,
  OrderType,
  SelfTradePrevention,
  Side,
  TimeInForce,
} from "@excraft/proto";
import { usdtMarketSpec } from "@excraft/testkit";

type Place = Extract<OrderCommand["command"], { $case: "place" }>["value"];

export function coverageCommands(): Uint8Array[] {
  const out: Uint8Array[] = [];
  let n = 0;
  let orderId = 1n;
  const command = (symbol: string, body: OrderCommand["command"], timeMs = 1_700_000_000_000n + BigInt(n)) =>
    out.push(OrderCommand.encode({ commandId: `cov-${n++}`, timeMs, symbol, command: body }).finish());
  const place = (symbol: string, p: Partial<Place>) =>
    command(symbol, {
      $case: "place",
      value: {
        orderId: orderId++,
        accountId: "acct-1",
        clientOrderId: "",
        side: Side.BUY,
        type: OrderType.LIMIT,
        timeInForce: TimeInForce.GTC,
        price: 10_000n,
        quantity: 1n,
        quoteOrderQty: 0n,
        stopPrice: 0n,
        selfTradePrevention: SelfTradePrevention.UNSPECIFIED,
        reserved: 0n,
        ...p,
      },
    });
  const addMarket = (spec: MarketSpec | undefined) =>
    command(spec?.symbol ?? "", { $case: "addMarket", value: { spec } });

  addMarket(usdtMarketSpec("BTC"));
  addMarket(usdtMarketSpec("ETH", { defaultStp: SelfTradePrevention.EXPIRE_TAKER, stepSize: 10n }));
  addMarket(undefined); // INVALID_MARKET_SPEC
  addMarket(usdtMarketSpec("BTC")); // already exists

  // Non-ASCII and long strings; a resting book on both sides.
  place("BTCUSDT", { accountId: "acct-ü", clientOrderId: "ordre-été-日本", side: Side.SELL, price: 10_100n });
  place("BTCUSDT", { accountId: "acct-2", clientOrderId: "x".repeat(200), side: Side.SELL, price: 10_200n });
  place("BTCUSDT", { accountId: "acct-3", price: 9_900n, quantity: 5n });
  // A stop-loss-limit sell that triggers when the price trades down to 9,950; a take-profit buy.
  place("BTCUSDT", {
    accountId: "acct-4",
    side: Side.SELL,
    type: OrderType.STOP_LOSS_LIMIT,
    price: 9_900n,
    stopPrice: 9_950n,
  });
  place("BTCUSDT", { accountId: "acct-4", type: OrderType.TAKE_PROFIT, stopPrice: 9_000n, timeInForce: 0 });
  place("BTCUSDT", { accountId: "acct-5", side: Side.SELL, price: 9_950n, quantity: 2n });
  place("BTCUSDT", { accountId: "acct-6", price: 9_950n, quantity: 2n, timeInForce: TimeInForce.IOC });
  place("BTCUSDT", { accountId: "acct-4", side: Side.SELL, type: OrderType.STOP_LOSS, stopPrice: 99_999n });

  // Self-trade prevention of every mode (ETHUSDT defaults to EXPIRE_TAKER); a LOT_SIZE reject.
  for (const stp of [
    SelfTradePrevention.UNSPECIFIED,
    SelfTradePrevention.EXPIRE_MAKER,
    SelfTradePrevention.EXPIRE_BOTH,
    SelfTradePrevention.NONE,
  ]) {
    place("ETHUSDT", { accountId: "acct-7", side: Side.SELL, price: 2_000n, quantity: 10n });
    place("ETHUSDT", { accountId: "acct-7", price: 2_000n, quantity: 10n, selfTradePrevention: stp });
  }
  place("ETHUSDT", { accountId: "acct-7", quantity: 5n });
  place("ETHUSDT", { accountId: "acct-8", type: OrderType.LIMIT_MAKER, price: 2_100n, quantity: 10n });

  // Cancel by client order id, replace (keeping and losing priority), mass cancel, unknown orders.
  place("BTCUSDT", { accountId: "acct-9", clientOrderId: "keep", price: 9_800n, quantity: 3n });
  command("BTCUSDT", {
    $case: "cancel",
    value: { accountId: "acct-9", orderId: 0n, clientOrderId: "keep" },
  });
  place("BTCUSDT", { accountId: "acct-9", clientOrderId: "r1", price: 9_700n, quantity: 3n });
  const replaced = orderId - 1n;
  for (const [newPrice, newQuantity] of [
    [9_700n, 2n],
    [9_750n, 4n],
  ] as const) {
    command("BTCUSDT", {
      $case: "replace",
      value: {
        accountId: "acct-9",
        orderId: newPrice === 9_700n ? replaced : orderId - 1n,
        clientOrderId: "",
        newOrderId: orderId++,
        newClientOrderId: `r-${newPrice}`,
        newPrice,
        newQuantity,
      },
    });
  }
  command("BTCUSDT", {
    $case: "cancel",
    value: { accountId: "acct-9", orderId: 77_777n, clientOrderId: "" },
  });
  command("", { $case: "massCancel", value: { accountId: "acct-3" } });
  command("BTCUSDT", { $case: "massCancel", value: { accountId: "nobody" } });

  // Halt: orders are rejected; a filter update; back to trading.
  command("BTCUSDT", { $case: "setMarketStatus", value: { status: MarketStatus.HALT } });
  place("BTCUSDT", { accountId: "acct-1" });
  command("BTCUSDT", { $case: "setMarketStatus", value: { status: MarketStatus.TRADING } });
  command("BTCUSDT", {
    $case: "updateFilters",
    value: { spec: usdtMarketSpec("BTC", { tickSize: 10n, minNotional: 100n }) },
  });
  command("BTCUSDT", { $case: "updateFilters", value: { spec: undefined } });
  place("BTCUSDT", { accountId: "acct-1", price: 10_005n });
  place("NOPEUSDT", { accountId: "acct-1" });

  // Rejects without a command: malformed bytes, out-of-range fields, negative and huge times, no body.
  out.push(Uint8Array.from([0x0a, 0xff, 0xff]));
  n++;
  place("BTCUSDT", { accountId: "acct-1", orderId: 2n ** 60n });
  command(
    "BTCUSDT",
    { $case: "place", value: { ...emptyPlace(), orderId: orderId++, accountId: "acct-1" } },
    -5n,
  );
  command(
    "BTCUSDT",
    { $case: "place", value: { ...emptyPlace(), orderId: orderId++, accountId: "acct-1" } },
    2n ** 62n,
  );
  command("BTCUSDT", undefined);
  out.push(out[out.length - 1]!); // the same command id again: dropped

  // Σ price × quantity beyond 2^53 in one fill.
  place("BTCUSDT", { accountId: "whale-1", side: Side.SELL, price: 90_000_000n, quantity: 1_000_000_000n });
  place("BTCUSDT", { accountId: "whale-2", price: 90_000_000n, quantity: 1_000_000_000n });

  // A sweep through 3,200 price levels: one depth event of more than 16 KiB.
  for (let i = 0; i < 3_200; i++) {
    place("ETHUSDT", {
      accountId: `mm-${i % 7}`,
      side: Side.SELL,
      price: 3_000n + 10n * BigInt(i),
      quantity: 10n,
    });
  }
  place("ETHUSDT", {
    accountId: "taker",
    type: OrderType.MARKET,
    timeInForce: TimeInForce.UNSPECIFIED,
    price: 0n,
    quantity: 40_000n,
  });
  return out;
}

function emptyPlace(): Place {
  return {
    orderId: 0n,
    accountId: "",
    clientOrderId: "",
    side: Side.BUY,
    type: OrderType.LIMIT,
    timeInForce: TimeInForce.GTC,
    price: 10_000n,
    quantity: 1n,
    quoteOrderQty: 0n,
    stopPrice: 0n,
    selfTradePrevention: 0,
    reserved: 0n,
  };
}
