/**
 * Deterministic orders.v1 command streams for the service tests: market set-up, then a seeded
 * random mix of limit GTC/IOC orders, market orders, cancels and cancel-replaces.
 */
import { type MarketSpec, OrderCommand, OrderType, Side, TimeInForce } from "@excraft/proto";
import { mulberry32, usdtMarketSpec } from "@excraft/testkit";

export const TEST_MARKETS = ["BTCUSDT", "ETHUSDT", "EXTUSDT"] as const;

export function marketSpec(symbol: string): MarketSpec {
  return usdtMarketSpec(symbol.replace(/USDT$/, ""));
}

export function encodeCommands(commands: OrderCommand[]): Uint8Array[] {
  return commands.map((c) => OrderCommand.encode(c).finish());
}

export function generateCommands(count: number, seed = 1): OrderCommand[] {
  const next = mulberry32(seed);
  const pick = (n: number) => Math.floor(next() * n);
  const commands: OrderCommand[] = TEST_MARKETS.map((symbol, i) => ({
    commandId: `add-${symbol}`,
    timeMs: 1_700_000_000_000n + BigInt(i),
    symbol,
    command: { $case: "addMarket", value: { spec: marketSpec(symbol) } },
  }));
  const open: { symbol: string; orderId: bigint; accountId: string }[] = [];
  let orderId = 1n;
  for (let i = commands.length; i < count; i++) {
    const symbol = TEST_MARKETS[pick(TEST_MARKETS.length)]!;
    const accountId = `acct-${pick(40)}`;
    const timeMs = 1_700_000_000_000n + BigInt(i);
    const roll = next();
    const base = { commandId: `c-${seed}-${i}`, timeMs, symbol };
    if (roll < 0.1 && open.length > 0) {
      const victim = open.splice(pick(open.length), 1)[0]!;
      commands.push({
        ...base,
        symbol: victim.symbol,
        command: {
          $case: "cancel",
          value: { accountId: victim.accountId, orderId: victim.orderId, clientOrderId: "" },
        },
      });
      continue;
    }
    if (roll < 0.25 && open.length > 0) {
      const target = open[pick(open.length)]!;
      const newOrderId = orderId++;
      commands.push({
        ...base,
        symbol: target.symbol,
        command: {
          $case: "replace",
          value: {
            accountId: target.accountId,
            orderId: target.orderId,
            clientOrderId: "",
            newOrderId,
            newClientOrderId: "",
            newPrice: BigInt(9_900 + pick(200)),
            newQuantity: BigInt(1 + pick(50)),
          },
        },
      });
      target.orderId = newOrderId;
      continue;
    }
    const side = next() < 0.5 ? Side.BUY : Side.SELL;
    const id = orderId++;
    const isMarket = roll > 0.97;
    commands.push({
      ...base,
      command: {
        $case: "place",
        value: {
          orderId: id,
          accountId,
          clientOrderId: `cl-${id}`,
          side,
          type: isMarket ? OrderType.MARKET : OrderType.LIMIT,
          timeInForce: isMarket ? TimeInForce.UNSPECIFIED : roll > 0.9 ? TimeInForce.IOC : TimeInForce.GTC,
          price: isMarket ? 0n : BigInt(9_900 + pick(200)),
          quantity: BigInt(1 + pick(50)),
          quoteOrderQty: 0n,
          stopPrice: 0n,
          selfTradePrevention: 0,
          reserved: 0n,
        },
      },
    });
    if (!isMarket) open.push({ symbol, orderId: id, accountId });
    if (open.length > 600) open.splice(0, 100);
  }
  return commands;
}
