/**
 * A market-making bot that keeps the demo books alive. It is an ordinary API client: every tick,
 * per market, it cancels its open orders and places a small ladder of bids and asks around a mid
 * price that takes a bounded random walk, through the signed Binance-compatible REST API — so its
 * orders are reserved, matched and settled like anyone's.
 */

import { formatUnits, sign } from "@excraft/order-gateway";
import type { Logger } from "@excraft/platform";
import type { DemoMarket } from "./demo-markets.ts";

const LEVELS = 2;

export interface MarketMakerBotOptions {
  /** Base URL of the REST API, e.g. http://127.0.0.1:7402 */
  restUrl: string;
  apiKey: string;
  secret: string;
  markets: DemoMarket[];
  logger: Logger;
  intervalMs?: number;
}

export class MarketMakerBot {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly mids = new Map<string, number>();
  private seed = 12_345;
  /** Requests the API refused (logged; the next tick tries again). */
  rejected = 0;

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
    }, this.options.intervalMs ?? 2_000);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** One round of quotes for every market. */
  async tick(): Promise<void> {
    for (const market of this.options.markets) {
      const { symbol, priceScale, quantityScale, minQty } = market.spec;
      const mid = this.walk(symbol);
      const spread = basisStep(mid);
      await this.signed("DELETE", "/api/v3/openOrders", { symbol }, [-2011]);
      for (let level = 1; level <= LEVELS; level++) {
        for (const side of ["BUY", "SELL"] as const) {
          const price = side === "BUY" ? mid - spread * level : mid + spread * level;
          await this.signed("POST", "/api/v3/order", {
            symbol,
            side,
            type: "LIMIT",
            timeInForce: "GTC",
            price: formatUnits(BigInt(price), priceScale),
            quantity: formatUnits(minQty * BigInt(level * 20), quantityScale),
            newOrderRespType: "ACK",
          });
        }
      }
    }
  }

  private async signed(
    method: string,
    path: string,
    params: Record<string, string>,
    ignoreCodes: number[] = [],
  ) {
    const query = new URLSearchParams({
      ...params,
      timestamp: String(Date.now()),
      recvWindow: "5000",
    }).toString();
    const url = `${this.options.restUrl}${path}?${query}&signature=${sign(this.options.secret, query)}`;
    const response = await fetch(url, { method, headers: { "X-MBX-APIKEY": this.options.apiKey } });
    if (!response.ok) {
      const body = (await response.json().catch(() => ({}))) as { code?: number; msg?: string };
      if (body.code !== undefined && ignoreCodes.includes(body.code)) return;
      this.rejected++;
      this.options.logger.warn({ path, status: response.status, body }, "market-maker request refused");
    }
  }

  /** A bounded random walk of ±5 basis points per tick (integer ticks; no floats reach the books). */
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
