import { describe, expect, it } from "vitest";
import { ExecutionEvent, OrderCommand, OrderType, Side, TimeInForce } from "../src/index";

// The generated codecs are the Kafka payload format: these checks pin the properties the
// services rely on (int64 as exact bigint, oneof unions, forward-compatible decoding).
describe("generated protobuf codecs", () => {
  it("round-trips an order command with 64-bit integers beyond 2^53 exactly", () => {
    const command = OrderCommand.fromPartial({
      commandId: "c-1",
      timeMs: 1_764_000_000_123n,
      symbol: "BTCUSDT",
      command: {
        $case: "place",
        value: {
          orderId: 2n ** 63n - 1n,
          accountId: "acct-1",
          side: Side.BUY,
          type: OrderType.LIMIT,
          timeInForce: TimeInForce.GTC,
          price: 9_007_199_254_740_993n, // 2^53 + 1: not representable as a JS number
          quantity: 5n,
        },
      },
    });
    const bytes = OrderCommand.encode(command).finish();
    const decoded = OrderCommand.decode(bytes);
    expect(decoded).toEqual(command);
    expect(decoded.command?.$case).toBe("place");
    if (decoded.command?.$case === "place") expect(decoded.command.value.price).toBe(9_007_199_254_740_993n);
  });

  it("decodes an empty payload to defaults and rejects garbage", () => {
    expect(ExecutionEvent.decode(new Uint8Array()).event).toBeUndefined();
    expect(() => OrderCommand.decode(Uint8Array.from([0xff, 0xff, 0xff]))).toThrow();
  });

  it("maps enums to and from their JSON names", () => {
    const json = OrderCommand.toJSON(
      OrderCommand.fromPartial({
        command: { $case: "place", value: { side: Side.SELL, type: OrderType.LIMIT_MAKER } },
      }),
    ) as { place: { side: string; type: string } };
    expect(json.place.side).toBe("SIDE_SELL");
    expect(json.place.type).toBe("ORDER_TYPE_LIMIT_MAKER");
  });
});
