/**
 * A market-making bot that keeps the demo books alive: every tick, per market, it cancels its
 * previous quotes and places a small ladder of bids and asks around a mid price that takes a
 * seeded random walk. It writes to orders.v1 like any other client of the engine.
 */
import type { EventLog } from "@excraft/eventlog";
import type { OrderIdAllocator } from "@excraft/order-gateway";
import type { Logger } from "@excraft/platform";
import { OrderCommand, OrderType, Side, TimeInForce } from "@excraft/proto";
import type { DemoMarket } from "./demo-markets.ts";

export const BOT_ACCOUNT = "mm-bot";
const LEVELS = 5;

export interface MarketMakerBotOptions {
  eventLog: EventLog;
  orderIds: OrderIdAllocator;
  markets: DemoMarket[];
  logger: Logger;
  intervalMs?: number;
  shard?: number;
}

export class MarketMakerBot {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly mids = new Map<string, number>();
  private commandSeq = 0;
  private seed = 12_345;

  constructor(private readonly options: MarketMakerBotOptions) {
    for (const market of options.markets) this.mids.set(market.spec.symbol, market.mid);
  }

  start(): void {
    this.timer = setInterval(() => {
      if (this.running) return; // skip a tick rather than pile up
      this.running = this.tick()
        .catch((error) => this.options.logger.warn({ err: error }, "market-maker tick failed"))
        .finally(() => {
          this.running = undefined;
        });
    }, this.options.intervalMs ?? 1_000);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** One round of quotes for every market. */
  async tick(nowMs = Date.now()): Promise<void> {
    const commands: OrderCommand[] = [];
    for (const market of this.options.markets) {
      const { symbol } = market.spec;
      const mid = this.walk(symbol);
      const spread = basisStep(mid);
      commands.push(this.command(symbol, nowMs, { $case: "massCancel", value: { accountId: BOT_ACCOUNT } }));
      for (let level = 1; level <= LEVELS; level++) {
        for (const side of [Side.BUY, Side.SELL]) {
          const price = side === Side.BUY ? mid - spread * level : mid + spread * level;
          const quantity = market.spec.minQty * BigInt(level * 20);
          commands.push(
            this.command(symbol, nowMs, {
              $case: "place",
              value: {
                orderId: await this.options.orderIds.take(),
                accountId: BOT_ACCOUNT,
                clientOrderId: "",
                side,
                type: OrderType.LIMIT,
                timeInForce: TimeInForce.GTC,
                price: BigInt(price),
                quantity,
                quoteOrderQty: 0n,
                stopPrice: 0n,
                selfTradePrevention: 0,
                reserved: 0n,
              },
            }),
          );
        }
      }
    }
    await this.options.eventLog.publish(
      "orders.v1",
      commands.map((command) => ({
        key: command.symbol,
        value: OrderCommand.encode(command).finish(),
        partition: this.options.shard ?? 0,
      })),
    );
  }

  private command(symbol: string, nowMs: number, command: OrderCommand["command"]): OrderCommand {
    return { commandId: `bot-${nowMs}-${this.commandSeq++}`, timeMs: BigInt(nowMs), symbol, command };
  }

  /** A bounded random walk of ±0.05% per tick (integer ticks; no floats reach the books). */
  private walk(symbol: string): number {
    this.seed = (this.seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    const mid = this.mids.get(symbol)!;
    const step = basisStep(mid);
    const next = Math.max(step * (LEVELS + 2), mid + (this.seed % 3) * step - step);
    this.mids.set(symbol, next);
    return next;
  }
}

/** 5 basis points of a price in ticks, at least one tick (exact integer division). */
function basisStep(mid: number): number {
  return Math.max(1, (mid - (mid % 2_000)) / 2_000);
}
