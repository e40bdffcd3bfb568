/**
 * End to end: a real engine shard in-process over the embedded event log and a real PostgreSQL,
 * the gateway consuming its marketdata.v1 / executions.v1 output, real HTTP and WebSocket clients.
 */
import { TOPICS } from "@excraft/matching-engine";
import { createMetrics } from "@excraft/platform";
import { decodeMarketDataRecord, encodeMarketDataRecord } from "@excraft/proto/records";
import { mulberry32 } from "@excraft/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { createMarketDataGateway, type MarketDataGateway } from "../src/index.ts";
import {
  addMarket,
  BTCUSDT,
  type Exchange,
  limit,
  logger,
  send,
  startExchange,
  waitUntil,
} from "./support/harness.ts";

const MINUTE = 60_000;

describe("market-data gateway over a real engine", () => {
  let ex: Exchange;
  let gateway: MarketDataGateway;
  let base: string;
  let wsBase: string;
  const metrics = createMetrics({ defaultMetrics: false });
  // Two trades in one minute, one in the next; both minutes within the last 5.
  const t0 = Math.floor(Date.now() / MINUTE) * MINUTE - 2 * MINUTE + 5_000;
  const t1 = t0 + MINUTE + 1_000;

  const get = async (path: string) => {
    const response = await fetch(`${base}${path}`);
    const text = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      body: text === "" ? undefined : JSON.parse(text),
    };
  };

  const startGateway = (overrides: Partial<Parameters<typeof createMarketDataGateway>[0]> = {}) =>
    createMarketDataGateway({
      eventLog: ex.log,
      pool: ex.pool,
      engine: ex.engineAddress,
      logger,
      metrics,
      ws: { maxBufferedBytes: 256 * 1024 },
      ...overrides,
    });

  beforeAll(async () => {
    ex = await startExchange();
    gateway = startGateway();
    const address = await gateway.start();
    base = address.url;
    wsBase = address.wsUrl;
    // The market is created after the gateway started: it learns it from executions.v1 MarketChanged.
    await send(ex.log, [addMarket(BTCUSDT, t0 - 1_000)]);
    await waitUntil("market known", () => gateway.markets.get("BTCUSDT") !== undefined);
    await send(ex.log, [
      limit("BTCUSDT", "maker-a", "SELL", 97_000_00, 1_5000, t0), // 1.5 @ 97000.00
      limit("BTCUSDT", "maker-a", "SELL", 97_100_00, 5000, t0), // 0.5 @ 97100.00
      limit("BTCUSDT", "maker-b", "BUY", 96_900_00, 1_0000, t0), // 1.0 @ 96900.00
      limit("BTCUSDT", "taker-c", "BUY", 97_100_00, 1_7000, t0 + 100), // takes 1.5 @ 97000, 0.2 @ 97100
      limit("BTCUSDT", "taker-d", "SELL", 96_900_00, 4000, t1), // takes 0.4 @ 96900
    ]);
    await waitUntil(
      "three trades projected",
      async () => (await get("/api/v3/trades?symbol=BTCUSDT")).body?.length === 3,
    );
  });

  afterAll(async () => {
    await gateway?.stop();
    await ex?.stop();
  });

  it("answers ping, time and exchangeInfo with Binance shapes and weights", async () => {
    const ping = await get("/api/v3/ping");
    expect(ping.status).toBe(200);
    expect(ping.body).toEqual({});
    expect(Number(ping.headers.get("x-mbx-used-weight-1m"))).toBeGreaterThan(0);
    const time = await get("/api/v3/time");
    expect(Math.abs(time.body.serverTime - Date.now())).toBeLessThan(5_000);

    const before = Number((await get("/api/v3/ping")).headers.get("x-mbx-used-weight-1m"));
    const info = await get("/api/v3/exchangeInfo?symbol=BTCUSDT");
    expect(Number(info.headers.get("x-mbx-used-weight-1m"))).toBe(before + 20);
    expect(info.body.timezone).toBe("UTC");
    expect(info.body.rateLimits).toEqual([
      { rateLimitType: "REQUEST_WEIGHT", interval: "MINUTE", intervalNum: 1, limit: 6000 },
    ]);
    const [symbol] = info.body.symbols;
    expect(symbol).toMatchObject({
      symbol: "BTCUSDT",
      status: "TRADING",
      baseAsset: "BTC",
      quoteAsset: "USDT",
      baseAssetPrecision: 8,
      quotePrecision: 8,
      defaultSelfTradePreventionMode: "EXPIRE_TAKER",
      allowedSelfTradePreventionModes: ["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    });
    expect(symbol.orderTypes).toContain("LIMIT_MAKER");
    expect(symbol.filters).toEqual([
      {
        filterType: "PRICE_FILTER",
        minPrice: "0.01000000",
        maxPrice: "90071992547409.91000000", // no maximum in the spec: MAX_SAFE units, the enforced bound
        tickSize: "0.01000000",
      },
      {
        filterType: "LOT_SIZE",
        minQty: "0.00010000",
        maxQty: "900719925474.09910000",
        stepSize: "0.00010000",
      },
      { filterType: "MIN_NOTIONAL", minNotional: "5.00000000", applyToMarket: true, avgPriceMins: 5 },
      {
        filterType: "NOTIONAL",
        minNotional: "5.00000000",
        applyMinToMarket: true,
        maxNotional: "9223372036854.77580700", // the engine's int64 notional
        applyMaxToMarket: false,
        avgPriceMins: 5,
      },
    ]);
    const all = await get("/api/v3/exchangeInfo");
    expect(all.body.symbols.map((s: { symbol: string }) => s.symbol)).toEqual(["BTCUSDT"]);
  });

  it("serves the engine's book at /depth with exact decimals and the depth weight", async () => {
    const depth = await get("/api/v3/depth?symbol=BTCUSDT&limit=10");
    expect(depth.status).toBe(200);
    expect(depth.body.bids).toEqual([["96900.00000000", "0.60000000"]]);
    expect(depth.body.asks).toEqual([["97100.00000000", "0.30000000"]]);
    expect(depth.body.lastUpdateId).toBeGreaterThan(0);
    const a = Number(depth.headers.get("x-mbx-used-weight-1m"));
    const big = await get("/api/v3/depth?symbol=BTCUSDT&limit=5000");
    expect(Number(big.headers.get("x-mbx-used-weight-1m"))).toBe(a + 250);
  });

  it("serves trades, aggTrades and klines from the projection", async () => {
    const trades = (await get("/api/v3/trades?symbol=BTCUSDT")).body;
    expect(trades.map((t: Record<string, unknown>) => ({ ...t, id: undefined }))).toEqual([
      {
        price: "97000.00000000",
        qty: "1.50000000",
        quoteQty: "145500.00000000",
        time: t0 + 100,
        isBuyerMaker: false,
        isBestMatch: true,
      },
      {
        price: "97100.00000000",
        qty: "0.20000000",
        quoteQty: "19420.00000000",
        time: t0 + 100,
        isBuyerMaker: false,
        isBestMatch: true,
      },
      {
        price: "96900.00000000",
        qty: "0.40000000",
        quoteQty: "38760.00000000",
        time: t1,
        isBuyerMaker: true,
        isBestMatch: true,
      },
    ]);
    const ids = trades.map((t: { id: number }) => t.id);
    expect(ids[1]).toBe(ids[0] + 1);
    expect(
      (await get("/api/v3/trades?symbol=BTCUSDT&limit=1")).body.map((t: { id: number }) => t.id),
    ).toEqual([ids[2]]);

    const aggs = (await get("/api/v3/aggTrades?symbol=BTCUSDT")).body;
    expect(aggs).toEqual([
      { a: 0, p: "97000.00000000", q: "1.50000000", f: ids[0], l: ids[0], T: t0 + 100, m: false, M: true },
      { a: 1, p: "97100.00000000", q: "0.20000000", f: ids[1], l: ids[1], T: t0 + 100, m: false, M: true },
      { a: 2, p: "96900.00000000", q: "0.40000000", f: ids[2], l: ids[2], T: t1, m: true, M: true },
    ]);
    expect(
      (await get("/api/v3/aggTrades?symbol=BTCUSDT&fromId=2")).body.map((a: { a: number }) => a.a),
    ).toEqual([2]);
    expect(
      (await get(`/api/v3/aggTrades?symbol=BTCUSDT&startTime=${t1}&endTime=${t1 + 1}`)).body.map(
        (a: { a: number }) => a.a,
      ),
    ).toEqual([2]);

    const m0 = Math.floor(t0 / MINUTE) * MINUTE;
    const klines = (await get("/api/v3/klines?symbol=BTCUSDT&interval=1m")).body;
    expect(klines).toEqual([
      [
        m0,
        "97000.00000000",
        "97100.00000000",
        "97000.00000000",
        "97100.00000000",
        "1.70000000",
        m0 + MINUTE - 1,
        "164920.00000000",
        2,
        "1.70000000",
        "164920.00000000",
        "0",
      ],
      [
        m0 + MINUTE,
        "96900.00000000",
        "96900.00000000",
        "96900.00000000",
        "96900.00000000",
        "0.40000000",
        m0 + 2 * MINUTE - 1,
        "38760.00000000",
        1,
        "0.00000000",
        "0.00000000",
        "0",
      ],
    ]);
    expect((await get(`/api/v3/klines?symbol=BTCUSDT&interval=1m&startTime=${m0 + 1}`)).body).toEqual([
      klines[1],
    ]);
    expect((await get("/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=1")).body).toEqual([klines[1]]);
    const month = (await get("/api/v3/klines?symbol=BTCUSDT&interval=1M")).body;
    expect(month).toHaveLength(1);
    expect(month[0].slice(1, 6)).toEqual([
      "97000.00000000",
      "97100.00000000",
      "96900.00000000",
      "96900.00000000",
      "2.10000000",
    ]);
    expect(month[0][8]).toBe(3);
  });

  it("computes the rolling 24h ticker, price, book ticker and avgPrice exactly", async () => {
    const ticker = (await get("/api/v3/ticker/24hr?symbol=BTCUSDT")).body;
    expect(ticker).toMatchObject({
      symbol: "BTCUSDT",
      priceChange: "-100.00000000",
      priceChangePercent: "-0.103",
      weightedAvgPrice: "96990.47619048", // 203680 / 2.1
      prevClosePrice: "0.00000000",
      lastPrice: "96900.00000000",
      lastQty: "0.40000000",
      bidPrice: "96900.00000000",
      bidQty: "0.60000000",
      askPrice: "97100.00000000",
      askQty: "0.30000000",
      openPrice: "97000.00000000",
      highPrice: "97100.00000000",
      lowPrice: "96900.00000000",
      volume: "2.10000000",
      quoteVolume: "203680.00000000",
      count: 3,
    });
    expect(ticker.lastId).toBe(ticker.firstId + 2);
    const list = (await get(`/api/v3/ticker/24hr?symbols=${encodeURIComponent('["BTCUSDT"]')}&type=MINI`))
      .body;
    expect(list).toEqual([
      expect.objectContaining({ symbol: "BTCUSDT", lastPrice: "96900.00000000", volume: "2.10000000" }),
    ]);
    expect(list[0].priceChange).toBeUndefined();
    expect((await get("/api/v3/ticker/price?symbol=BTCUSDT")).body).toEqual({
      symbol: "BTCUSDT",
      price: "96900.00000000",
    });
    expect((await get("/api/v3/ticker/price")).body).toEqual([
      { symbol: "BTCUSDT", price: "96900.00000000" },
    ]);
    expect((await get("/api/v3/ticker/bookTicker?symbol=BTCUSDT")).body).toEqual({
      symbol: "BTCUSDT",
      bidPrice: "96900.00000000",
      bidQty: "0.60000000",
      askPrice: "97100.00000000",
      askQty: "0.30000000",
    });
    expect((await get("/api/v3/avgPrice?symbol=BTCUSDT")).body).toEqual({
      mins: 5,
      price: "96990.47619048",
      closeTime: t1,
    });
  });

  it("answers bad input with Binance's code and message", async () => {
    const cases: [string, number, string][] = [
      ["/api/v3/depth?symbol=NOPE", -1121, "Invalid symbol."],
      ["/api/v3/depth", -1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."],
      [
        "/api/v3/depth?symbol=",
        -1102,
        "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.",
      ],
      [
        "/api/v3/depth?symbol=BTCUSDT&limit=abc",
        -1100,
        "Illegal characters found in parameter 'limit'; legal range is '^[0-9]{1,20}$'.",
      ],
      [
        "/api/v3/depth?symbol=BTCUSDT&limit=-5",
        -1100,
        "Illegal characters found in parameter 'limit'; legal range is '^[0-9]{1,20}$'.",
      ],
      [
        "/api/v3/depth?symbol=btcusdt",
        -1100,
        "Illegal characters found in parameter 'symbol'; legal range is '^[A-Z0-9-_.]{1,20}$'.",
      ],
      [
        "/api/v3/trades?symbol=BTCUSDT&limit=1.5",
        -1100,
        "Illegal characters found in parameter 'limit'; legal range is '^[0-9]{1,20}$'.",
      ],
      ["/api/v3/klines?symbol=BTCUSDT&interval=2m", -1120, "Invalid interval."],
      [
        "/api/v3/klines?symbol=BTCUSDT",
        -1102,
        "Mandatory parameter 'interval' was not sent, was empty/null, or malformed.",
      ],
      [
        "/api/v3/klines?symbol=BTCUSDT&interval=1m&startTime=12x",
        -1100,
        "Illegal characters found in parameter 'startTime'; legal range is '^[0-9]{1,20}$'.",
      ],
      [
        "/api/v3/klines?symbol=BTCUSDT&interval=1m&startTime=20&endTime=10",
        -1023,
        "Start time is greater than end time.",
      ],
      ["/api/v3/klines?symbol=NOPE&interval=1m", -1121, "Invalid symbol."],
      [
        "/api/v3/aggTrades?symbol=BTCUSDT&fromId=1&startTime=1",
        -1128,
        "Combination of optional parameters invalid.",
      ],
      ["/api/v3/depth?symbol=BTCUSDT&symbol=ETHUSDT", -1101, "Duplicate values for a parameter detected."],
      [
        "/api/v3/ticker/24hr?symbol=BTCUSDT&symbols=%5B%22BTCUSDT%22%5D",
        -1128,
        "Combination of optional parameters invalid.",
      ],
      [
        "/api/v3/ticker/price?symbols=BTCUSDT",
        -1100,
        `Illegal characters found in parameter 'symbols'; legal range is '^\\[("[A-Z0-9-_.]{1,20}"(,"[A-Z0-9-_.]{1,20}"){0,}){0,1}\\]$'.`,
      ],
      ["/api/v3/ticker/price?symbols=%5B%22BTCUSDT%22,%22NOPE%22%5D", -1121, "Invalid symbol."],
      ["/api/v3/avgPrice", -1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."],
    ];
    for (const [path, code, msg] of cases) {
      const response = await get(path);
      expect({ path, status: response.status, body: response.body }).toEqual({
        path,
        status: 400,
        body: { code, msg },
      });
      expect(response.headers.get("x-mbx-used-weight-1m")).not.toBeNull();
    }
    expect((await get("/api/v3/nope")).status).toBe(404);
  });

  it("lets a WebSocket client rebuild the book by Binance's procedure while orders flow", async () => {
    const ws = new WebSocket(`${wsBase}/stream?streams=btcusdt@depth@100ms/btcusdt@trade`);
    const events: { U: number; u: number; b: [string, string][]; a: [string, string][] }[] = [];
    let tradesSeen = 0;
    ws.on("message", (data) => {
      const message = JSON.parse(data.toString());
      if (message.stream === "btcusdt@depth@100ms") events.push(message.data);
      if (message.stream === "btcusdt@trade") tradesSeen++;
    });
    await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));

    // Keep orders flowing around the mid (some cross and trade) for the whole procedure.
    const next = mulberry32(7);
    let flowing = true;
    let sent = 0;
    const flow = (async () => {
      while (flowing && sent < 3_000) {
        const batch = Array.from({ length: 15 }, () => {
          const side = next() < 0.5 ? "BUY" : "SELL";
          const price = 97_000_00 + Math.floor((next() - 0.5) * 400) + (side === "BUY" ? -60 : 60);
          return limit(
            "BTCUSDT",
            `acct-${Math.floor(next() * 20)}`,
            side,
            price,
            1 + Math.floor(next() * 20_000),
            Date.now(),
          );
        });
        sent += batch.length;
        await send(ex.log, batch);
        await new Promise((resolve) => setTimeout(resolve, 15));
      }
    })();

    const book = { bids: new Map<string, string>(), asks: new Map<string, string>() };
    let lastU = 0;
    const apply = (e: (typeof events)[number]) => {
      for (const [p, q] of e.b) Number(q) === 0 ? book.bids.delete(p) : book.bids.set(p, q);
      for (const [p, q] of e.a) Number(q) === 0 ? book.asks.delete(p) : book.asks.set(p, q);
      lastU = e.u;
    };
    try {
      // 1-2: buffer events; note U of the first one.
      await waitUntil("first diff event", () => events.length > 0);
      const firstU = events[0]!.U;
      // 3-4: a snapshot whose lastUpdateId is at least the first buffered U (else fetch again).
      let snapshot = (await get("/api/v3/depth?symbol=BTCUSDT&limit=5000")).body as {
        lastUpdateId: number;
        bids: [string, string][];
        asks: [string, string][];
      };
      for (let attempt = 0; snapshot.lastUpdateId < firstU && attempt < 100; attempt++) {
        snapshot = (await get("/api/v3/depth?symbol=BTCUSDT&limit=5000")).body;
      }
      expect(snapshot.lastUpdateId).toBeGreaterThanOrEqual(firstU);
      for (const [p, q] of snapshot.bids) book.bids.set(p, q);
      for (const [p, q] of snapshot.asks) book.asks.set(p, q);
      // 5: drop buffered events with u <= lastUpdateId.
      await waitUntil("an event past the snapshot", () => events.some((e) => e.u > snapshot.lastUpdateId));
      let i = events.findIndex((e) => e.u > snapshot.lastUpdateId);
      // 6: the first event to apply straddles lastUpdateId + 1.
      expect(events[i]!.U).toBeLessThanOrEqual(snapshot.lastUpdateId + 1);
      expect(events[i]!.u).toBeGreaterThanOrEqual(snapshot.lastUpdateId + 1);
      lastU = snapshot.lastUpdateId;
      // 7: apply the rest; every event's U must be the previous u + 1.
      const drain = () => {
        for (; i < events.length; i++) {
          const e = events[i]!;
          if (lastU !== snapshot.lastUpdateId) expect(e.U).toBe(lastU + 1);
          apply(e);
        }
      };
      await new Promise((resolve) => setTimeout(resolve, 800)); // orders keep flowing meanwhile
      drain();
      flowing = false;
      await flow;
      const final = (await get("/api/v3/depth?symbol=BTCUSDT&limit=5000")).body;
      await waitUntil("diff stream caught up", () => {
        drain();
        return lastU >= final.lastUpdateId;
      });
      expect(lastU).toBe(final.lastUpdateId);
      const sorted = (m: Map<string, string>, desc: boolean) =>
        [...m].sort((x, y) => (desc ? -1 : 1) * (Number(x[0]) - Number(y[0])));
      expect(sorted(book.bids, true)).toEqual(final.bids);
      expect(sorted(book.asks, false)).toEqual(final.asks);
      expect(final.bids.length).toBeGreaterThan(10);
      expect(sent).toBeGreaterThan(100);
      expect(tradesSeen).toBeGreaterThan(0);
    } finally {
      flowing = false;
      await flow;
      ws.close();
    }
  });

  it("supports SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS, raw streams and ping/pong", async () => {
    const ws = new WebSocket(`${wsBase}/ws/btcusdt@aggTrade`);
    const messages: unknown[] = [];
    ws.on("message", (data) => messages.push(JSON.parse(data.toString())));
    await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
    const reply = async (request: unknown) => {
      const n = messages.length;
      ws.send(JSON.stringify(request));
      await waitUntil("reply", () => messages.slice(n).some((m) => (m as { id?: unknown }).id !== undefined));
      return messages.slice(n).find((m) => (m as { id?: unknown }).id !== undefined);
    };
    expect(
      await reply({
        method: "SUBSCRIBE",
        params: ["btcusdt@kline_1m", "btcusdt@bookTicker", "btcusdt@depth5"],
        id: 1,
      }),
    ).toEqual({ result: null, id: 1 });
    expect(await reply({ method: "LIST_SUBSCRIPTIONS", id: 2 })).toEqual({
      result: ["btcusdt@aggTrade", "btcusdt@kline_1m", "btcusdt@bookTicker", "btcusdt@depth5"],
      id: 2,
    });
    expect(await reply({ method: "UNSUBSCRIBE", params: ["btcusdt@bookTicker"], id: 3 })).toEqual({
      result: null,
      id: 3,
    });
    expect(await reply({ method: "SUBSCRIBE", params: ["btcusdt@nope"], id: 4 })).toMatchObject({
      error: { code: 2 },
      id: 4,
    });
    expect(await reply({ method: "FLY", id: 5 })).toMatchObject({ error: { code: 2 }, id: 5 });

    // Raw payloads (no {"stream"} wrapper): a partial book every second and live aggTrades / klines.
    await waitUntil("partial book", () =>
      messages.some((m) => (m as { lastUpdateId?: number }).lastUpdateId !== undefined),
    );
    const partial = messages.find((m) => (m as { lastUpdateId?: number }).lastUpdateId !== undefined) as {
      bids: unknown[];
    };
    expect(partial.bids.length).toBeLessThanOrEqual(5);
    await send(ex.log, [
      limit("BTCUSDT", "ws-maker", "SELL", 96_000_00, 1_0000, Date.now()),
      limit("BTCUSDT", "ws-taker", "BUY", 99_000_00, 1_0000, Date.now()),
    ]);
    // The open minute's kline (x false) carries the trade; when a minute ends during the test, the
    // closing kline of the previous one (x true) comes too, as on Binance.
    type KlineMessage = { e?: string; k: Record<string, unknown> };
    const openKline = () =>
      (messages as KlineMessage[]).find((m) => m.e === "kline" && m.k.x === false && Number(m.k.n) > 0);
    await waitUntil(
      "aggTrade and kline",
      () => messages.some((m) => (m as { e?: string }).e === "aggTrade") && openKline() !== undefined,
    );
    const kline = openKline()!;
    expect(kline.k).toMatchObject({ s: "BTCUSDT", i: "1m", x: false });
    for (const closed of (messages as KlineMessage[]).filter((m) => m.e === "kline" && m.k.x === true)) {
      expect(Number(closed.k.T)).toBeLessThan(Number(kline.k.t)); // only a minute already over is closed
    }
    expect(String(kline.k.v)).toMatch(/^\d+\.\d{8}$/);

    const pong = new Promise<Buffer>((resolve) => ws.once("pong", resolve));
    ws.ping("hello");
    expect((await pong).toString()).toBe("hello");
    ws.close();
  });

  it("streams @ticker, @bookTicker and @depth (1000 ms) with Binance payloads", async () => {
    const ws = new WebSocket(`${wsBase}/stream?streams=btcusdt@ticker/btcusdt@bookTicker/btcusdt@depth`);
    const byStream = new Map<string, Record<string, unknown>[]>();
    ws.on("message", (data) => {
      const { stream, data: payload } = JSON.parse(data.toString());
      byStream.set(stream, [...(byStream.get(stream) ?? []), payload]);
    });
    await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
    try {
      // A large bid sweeps every ask and rests at 99000.00; a sell then trades 0.5 against it.
      await send(ex.log, [
        limit("BTCUSDT", "s-maker", "BUY", 99_000_00, 1_000_0000, Date.now()),
        limit("BTCUSDT", "s-taker", "SELL", 99_000_00, 5000, Date.now()),
      ]);
      await waitUntil("ticker, bookTicker and depth events", () =>
        ["btcusdt@ticker", "btcusdt@bookTicker", "btcusdt@depth"].every(
          (s) => (byStream.get(s)?.length ?? 0) > 0,
        ),
      );
      await waitUntil("ticker of the last trade", () =>
        byStream.get("btcusdt@ticker")!.some((t) => t.c === "99000.00000000" && t.Q === "0.50000000"),
      );
      const ticker = byStream.get("btcusdt@ticker")!.at(-1)!;
      const rest = (await get("/api/v3/ticker/24hr?symbol=BTCUSDT")).body;
      expect(ticker).toMatchObject({ e: "24hrTicker", s: "BTCUSDT", c: "99000.00000000", Q: "0.50000000" });
      expect(ticker.v).toBe(rest.volume);
      expect(ticker.q).toBe(rest.quoteVolume);
      expect(ticker.n).toBe(rest.count);
      // The best bid is the rest of the large order at 99000.00, and no ask is left.
      const rb = (await get("/api/v3/ticker/bookTicker?symbol=BTCUSDT")).body;
      expect([rb.bidPrice, rb.askPrice, rb.askQty]).toEqual(["99000.00000000", "0.00000000", "0.00000000"]);
      await waitUntil("bookTicker equal to the REST book ticker", () => {
        const b = byStream.get("btcusdt@bookTicker")!.at(-1)!;
        return b.b === rb.bidPrice && b.B === rb.bidQty && b.a === rb.askPrice && b.A === rb.askQty;
      });
      const bookTicker = byStream.get("btcusdt@bookTicker")!.at(-1)!;
      expect(Object.keys(bookTicker).sort()).toEqual(["A", "B", "a", "b", "s", "u"]);
      const depth = byStream.get("btcusdt@depth")!.at(-1)!;
      expect(depth).toMatchObject({ e: "depthUpdate", s: "BTCUSDT" });
      expect(depth.u as number).toBeGreaterThanOrEqual(depth.U as number);
    } finally {
      ws.close();
    }
  });

  it("disconnects a slow consumer with a close reason and keeps memory bounded", async () => {
    const ws = new WebSocket(`${wsBase}/ws/btcusdt@trade`);
    await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
    const closed = new Promise<{ code: number; reason: string }>((resolve) =>
      ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() })),
    );
    await waitUntil("subscribed", () => gateway.hub.has("btcusdt@trade"));
    const socket = (ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    socket.pause(); // the client stops reading
    const disconnectsBefore =
      (await metrics.registry.getSingleMetric("gateway_ws_slow_consumer_disconnects_total")!.get()).values[0]
        ?.value ?? 0;
    const filler = { e: "trade", pad: "x".repeat(64 * 1024) };
    let published = 0;
    while (gateway.hub.has("btcusdt@trade") && published < 2_000) {
      gateway.hub.publish("btcusdt@trade", filler);
      published++;
      if (published % 20 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    expect(gateway.hub.has("btcusdt@trade")).toBe(false);
    socket.resume();
    const { code, reason } = await closed;
    expect([1008, 1006]).toContain(code);
    if (code === 1008) expect(reason).toBe("slow consumer");
    const disconnectsAfter = (
      await metrics.registry.getSingleMetric("gateway_ws_slow_consumer_disconnects_total")!.get()
    ).values[0]!.value;
    expect(disconnectsAfter).toBe(disconnectsBefore + 1);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/gateway_ws_messages_sent_total \d+/);
    expect(text).toMatch(/http_requests_total\{method="GET",route="\/api\/v3\/depth",status_code="200"\}/);
  });

  it("frames each message once and delivers a burst in order, raw and combined, with control replies", async () => {
    // Nobody else publishes to `wsburst@…`: every message seen here comes from this test.
    const open = async (path: string) => {
      const ws = new WebSocket(`${wsBase}${path}`);
      const messages: unknown[] = [];
      ws.on("message", (data, isBinary) => {
        expect(isBinary).toBe(false);
        messages.push(JSON.parse(data.toString()));
      });
      await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
      return { ws, messages };
    };
    const combinedA = await open("/stream?streams=wsburst@trade/wsburst@depth");
    const combinedB = await open("/stream?streams=wsburst@trade/wsburst@depth");
    const raw = await open("/ws/wsburst@trade/wsburst@depth@1000ms");
    const depthOnly = await open("/stream?streams=wsburst@depth@1000ms");
    const all = [combinedA, combinedB, raw, depthOnly];
    try {
      await waitUntil(
        "subscribed",
        () => gateway.hub.has("wsburst@trade") && gateway.hub.has("wsburst@depth@1000ms"),
      );
      // One event-loop turn; payload sizes cover all three frame length encodings (7, 16 and 64 bits).
      const burst = [
        { feed: "wsburst@trade", data: { e: "trade", t: 1, pad: "" } },
        { feed: "wsburst@depth@1000ms", data: { e: "depthUpdate", U: 1, pad: "d".repeat(300) } },
        { feed: "wsburst@trade", data: { e: "trade", t: 2, pad: "€".repeat(30_000) } },
        { feed: "wsburst@trade", data: { e: "trade", t: 3, pad: "x".repeat(125) } },
      ];
      for (const { feed, data } of burst) gateway.hub.publish(feed, data);
      await waitUntil("burst delivered", () =>
        all.every((c) => c.messages.length >= (c === depthOnly ? 1 : burst.length)),
      );
      const wrapped = (name: (feed: string) => string) =>
        burst.map(({ feed, data }) => ({ stream: name(feed), data }));
      const asSubscribed = (feed: string) => (feed === "wsburst@depth@1000ms" ? "wsburst@depth" : feed);
      expect(combinedA.messages).toEqual(wrapped(asSubscribed));
      expect(combinedB.messages).toEqual(wrapped(asSubscribed));
      expect(raw.messages).toEqual(burst.map(({ data }) => data));
      expect(depthOnly.messages).toEqual([{ stream: "wsburst@depth@1000ms", data: burst[1]!.data }]);

      // A control reply queued behind data published in the same turn comes after it.
      combinedA.messages.length = 0;
      combinedA.ws.send(JSON.stringify({ method: "LIST_SUBSCRIPTIONS", id: 9 }));
      await new Promise((resolve) => setTimeout(resolve, 50));
      gateway.hub.publish("wsburst@trade", { e: "trade", t: 4 });
      await waitUntil("reply", () => combinedA.messages.length >= 2);
      expect(combinedA.messages).toHaveLength(2);
      expect(combinedA.messages).toContainEqual({ result: ["wsburst@trade", "wsburst@depth"], id: 9 });
      expect(combinedA.messages).toContainEqual({ stream: "wsburst@trade", data: { e: "trade", t: 4 } });
    } finally {
      for (const c of all) c.ws.close();
    }
  });

  it("disconnects a consumer whose socket stops draining, though it never has a turn's worth queued", async () => {
    // One 64 KiB message per event-loop turn: the hub's own queue never exceeds one message (under the
    // 256 KiB limit), so the disconnect can only come from the bytes stuck in the socket.
    const ws = new WebSocket(`${wsBase}/ws/wsslow@trade`);
    await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
    const closed = new Promise<{ code: number; reason: string }>((resolve) =>
      ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() })),
    );
    await waitUntil("subscribed", () => gateway.hub.has("wsslow@trade"));
    const socket = (ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    socket.pause();
    const filler = { e: "trade", pad: "x".repeat(64 * 1024) };
    let published = 0;
    while (gateway.hub.has("wsslow@trade") && published < 5_000) {
      gateway.hub.publish("wsslow@trade", filler);
      published++;
      await new Promise((resolve) => setImmediate(resolve)); // the hub's flush runs first
    }
    expect(gateway.hub.has("wsslow@trade")).toBe(false);
    // More than the limit went out before the cut: the kernel's socket buffers took the first part.
    expect(published * 64 * 1024).toBeGreaterThan(256 * 1024);
    socket.resume();
    const { code, reason } = await closed;
    expect([1008, 1006]).toContain(code);
    if (code === 1008) expect(reason).toBe("slow consumer");
  });

  it("drops re-delivered and stale-epoch engine events (ADR 7)", async () => {
    const reader = await ex.log.openReader({ topic: TOPICS.marketData, partition: 0 });
    const records = [];
    for (let k = 0; k < 100; k++) {
      const batch = await reader.read({ maxRecords: 5_000, maxWaitMs: 50 });
      if (batch.length === 0) break;
      records.push(...batch);
    }
    await reader.close();
    // Records hold many events (ADR 10): re-deliver a whole record with a trade in it.
    const withTrade = records.find((r) =>
      decodeMarketDataRecord(r.value).some((e) => e.event?.$case === "trade"),
    )!;
    const lastSeq = decodeMarketDataRecord(records.at(-1)!.value).at(-1)!.header.sequence;
    const before = (await get("/api/v3/trades?symbol=BTCUSDT&limit=1000")).body;
    const klinesBefore = (await get("/api/v3/klines?symbol=BTCUSDT&interval=1M")).body;
    const stale = decodeMarketDataRecord(withTrade.value).find((e) => e.event?.$case === "trade")!;
    stale.header = { ...stale.header, epoch: 0n, sequence: lastSeq + 1n };
    if (stale.event?.$case === "trade") stale.event.value.tradeId = 999_999n;
    const applied = gateway.projector.consumed;
    await ex.log.publish(TOPICS.marketData, [
      { key: "0", partition: 0, value: withTrade.value }, // duplicates
      { key: "0", partition: 0, value: encodeMarketDataRecord([stale]) }, // a fenced-off writer
    ]);
    await waitUntil("projector saw them", () => gateway.projector.consumed >= applied + 2);
    expect((await get("/api/v3/trades?symbol=BTCUSDT&limit=1000")).body).toEqual(before);
    expect((await get("/api/v3/klines?symbol=BTCUSDT&interval=1M")).body).toEqual(klinesBefore);
  });

  it("keeps trades and klines across a restart, and a full replay changes nothing", async () => {
    const trades = (await get("/api/v3/trades?symbol=BTCUSDT&limit=1000")).body;
    const klines1m = (await get("/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=1000")).body;
    const klines1d = (await get("/api/v3/klines?symbol=BTCUSDT&interval=1d")).body;
    const ticker = (await get("/api/v3/ticker/24hr?symbol=BTCUSDT")).body;
    await gateway.stop();
    // A new consumer group re-reads marketdata.v1 from the beginning: every event is a duplicate now.
    gateway = startGateway({ groupId: "order-gateway.market-data.replay" });
    const address = await gateway.start();
    base = address.url;
    wsBase = address.wsUrl;
    const end = await ex.log.endOffset(TOPICS.marketData, 0);
    await waitUntil("replayed", () => gateway.projector.consumed >= Number(end));
    expect((await get("/api/v3/trades?symbol=BTCUSDT&limit=1000")).body).toEqual(trades);
    expect((await get("/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=1000")).body).toEqual(klines1m);
    expect((await get("/api/v3/klines?symbol=BTCUSDT&interval=1d")).body).toEqual(klines1d);
    const after = (await get("/api/v3/ticker/24hr?symbol=BTCUSDT")).body;
    expect({ ...after, openTime: 0, closeTime: 0 }).toEqual({ ...ticker, openTime: 0, closeTime: 0 });
  });

  it("limits request weight per IP: 429 with Retry-After, then 418 for a repeat offender", async () => {
    const limited = startGateway({
      groupId: "order-gateway.rate-limit-test",
      rateLimit: { weightPerMinute: 45, banAfter: 2 },
    });
    const { url } = await limited.start();
    try {
      const hit = async () => {
        const r = await fetch(`${url}/api/v3/exchangeInfo`);
        return {
          status: r.status,
          retryAfter: r.headers.get("retry-after"),
          weight: r.headers.get("x-mbx-used-weight-1m"),
          body: (await r.json()) as { code: number; msg: string },
        };
      };
      // The window is the clock minute: start well inside one.
      await waitUntil("not near a minute boundary", () => Date.now() % MINUTE < 50_000, 15_000);
      const first = await hit();
      expect(first.status).toBe(200);
      expect(first.weight).toBe("20");
      expect((await hit()).weight).toBe("40");
      const third = await hit();
      expect(third.status).toBe(429);
      expect(Number(third.retryAfter)).toBeGreaterThanOrEqual(1);
      expect(Number(third.retryAfter)).toBeLessThanOrEqual(60);
      expect(third.body).toEqual({
        code: -1003,
        msg: "Too much request weight used; current limit is 45 request weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API.",
      });
      expect((await hit()).status).toBe(429);
      const banned = await hit();
      expect(banned.status).toBe(418);
      expect(banned.body.code).toBe(-1003);
      expect(banned.body.msg).toMatch(
        /^Way too much request weight used; IP banned until \d+\. Please use WebSocket Streams for live updates to avoid bans\.$/,
      );
      expect(Number(banned.retryAfter)).toBeGreaterThan(60);
      expect((await hit()).status).toBe(418);
    } finally {
      await limited.stop();
    }
  });
});
