/**
 * "Traders point the tools they already use at ExCraft by changing a base URL": the unmodified ccxt
 * `binance` class (REST) and `pro.binance` (WebSocket watch* methods) against the gateway over the
 * real engine shard, the real wallet and PostgreSQL. Only URLs and the options that turn off
 * Binance's non-spot endpoints are configured (`ccxtConfig`, the "Using ccxt" section of the
 * README). Every unified structure ccxt parses is checked value by value, the Binance error codes
 * must come out as ccxt's exception classes, and every HTTP request ccxt made must have gone to the
 * gateway.
 */
import ccxt, { type Balances, type Order, type OrderBook, type Str } from "ccxt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ccxtConfig } from "./support/ccxt-config.ts";
import { waitUntil } from "./support/harness.ts";
import {
  createKey,
  credit,
  type GatewayInstance,
  type Key,
  type OrderExchange,
  startGateway,
  startOrderExchange,
} from "./support/order-harness.ts";

/** Every HTTP request a ccxt instance makes (ccxt's own `fetch`, observed, not replaced). */
const requested: string[] = [];
class Binance extends ccxt.binance {
  // biome-ignore lint/suspicious/noExplicitAny: ccxt's own signature
  override fetch(url: any, method?: string, headers?: any, body?: any): Promise<any> {
    requested.push(`${method} ${url}`);
    return super.fetch(url, method, headers, body);
  }
}
class BinancePro extends ccxt.pro.binance {
  // biome-ignore lint/suspicious/noExplicitAny: ccxt's own signature
  override fetch(url: any, method?: string, headers?: any, body?: any): Promise<any> {
    requested.push(`${method} ${url}`);
    return super.fetch(url, method, headers, body);
  }
}

const SYMBOL = "BTC/USDT";

/** The exception ccxt raised (exactly this class) and its message. */
async function refusal(call: Promise<unknown>): Promise<{ type: unknown; message: string }> {
  try {
    await call;
  } catch (error) {
    return { type: (error as Error).constructor, message: (error as Error).message };
  }
  throw new Error("expected ccxt to raise");
}

/** A watch* promise bounded in time; its rejection at close() is handled. */
async function within<T>(promise: Promise<T>, what: string, ms = 15_000): Promise<T> {
  promise.catch(() => {});
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const sides = (book: OrderBook) => ({ bids: book.bids, asks: book.asks });

describe("ccxt binance against the gateway", () => {
  let oe: OrderExchange;
  let gw: GatewayInstance;
  let aliceKey: Key;
  let alice: Binance; // sells BTC
  let bob: Binance; // buys with USDT
  let pro: BinancePro; // alice's WebSocket client
  const ids: Record<string, Str> = {};

  /** Balance of one asset once it equals `expected` (the wallet settles executions.v1 asynchronously). */
  async function settled(
    ex: Binance,
    asset: string,
    expected: { free: number; used: number; total: number },
  ) {
    let balance: Balances | undefined;
    await waitUntil(`${asset} ${JSON.stringify(expected)}`, async () => {
      balance = await ex.fetchBalance();
      const b = balance[asset];
      return b?.free === expected.free && b?.used === expected.used && b?.total === expected.total;
    });
    return balance!;
  }

  beforeAll(async () => {
    oe = await startOrderExchange();
    gw = await startGateway(oe);
    aliceKey = await createKey(gw.url, "alice", ["read", "trade"]);
    const bobKey = await createKey(gw.url, "bob", ["read", "trade"]);
    await credit(oe, "alice", "BTC", 100_000_000n, "ccxt-alice-btc"); // 1 BTC
    await credit(oe, "bob", "USDT", 100_000_000_000n, "ccxt-bob-usdt"); // 100 000 USDT
    alice = new Binance(ccxtConfig(gw.url, aliceKey));
    bob = new Binance(ccxtConfig(gw.url, bobKey));
  }, 120_000);

  afterAll(async () => {
    await pro?.close();
    await gw?.stop();
    await oe?.stop();
  });

  it("loadMarkets takes symbols, precision and limits from exchangeInfo's filters; fetchTime", async () => {
    const markets = await alice.loadMarkets();
    expect(alice.symbols).toEqual([SYMBOL]);
    expect(markets[SYMBOL]).toMatchObject({
      id: "BTCUSDT",
      lowercaseId: "btcusdt",
      base: "BTC",
      quote: "USDT",
      type: "spot",
      spot: true,
      margin: false,
      active: true,
      // PRICE_FILTER tickSize, LOT_SIZE stepSize, base/quote asset precision
      precision: { amount: 0.0001, price: 0.01, base: 1e-8, quote: 1e-8 },
      limits: {
        amount: { min: 0.0001, max: 900719925474.0991 },
        price: { min: 0.01, max: 90071992547409.91 },
        cost: { min: 5 },
      },
    });
    const before = Date.now();
    const time = await alice.fetchTime();
    expect(time).toBeGreaterThanOrEqual(before - 1);
    expect(time).toBeLessThanOrEqual(Date.now() + 1);
    await bob.loadMarkets();

    // adjustForTimeDifference: ccxt asks /api/v3/time while loading markets.
    const adjusted = new Binance({
      ...ccxtConfig(gw.url),
      options: { ...ccxtConfig(gw.url).options, adjustForTimeDifference: true },
    });
    await adjusted.loadMarkets();
    expect(Math.abs(adjusted.options.timeDifference)).toBeLessThan(5_000);
  });

  it("fetchBalance shows what the wallet credited", async () => {
    const a = await alice.fetchBalance();
    expect(a.BTC).toEqual({ free: 1, used: 0, total: 1 });
    expect(a.total).toEqual({ BTC: 1 });
    const b = await bob.fetchBalance();
    expect(b.USDT).toEqual({ free: 100_000, used: 0, total: 100_000 });
  });

  it("limit orders (GTC) rest in the book and their funds show as used", async () => {
    const sell = await alice.createOrder(SYMBOL, "limit", "sell", 0.5, 30_000, { clientOrderId: "ccxt-ask" });
    expect(sell).toMatchObject({
      symbol: SYMBOL,
      clientOrderId: "ccxt-ask",
      type: "limit",
      timeInForce: "GTC",
      side: "sell",
      price: 30_000,
      amount: 0.5,
      filled: 0,
      remaining: 0.5,
      cost: 0,
      status: "open",
      trades: [],
    });
    ids.ask = sell.id;
    // ccxt's broker prefix when no clientOrderId is given
    const buy = await bob.createOrder(SYMBOL, "limit", "buy", 0.1, 29_000);
    expect(buy).toMatchObject({ side: "buy", price: 29_000, amount: 0.1, filled: 0, status: "open" });
    expect(buy.clientOrderId).toMatch(/^x-TKT5PX2F/);
    ids.bid = buy.id;

    expect((await alice.fetchBalance()).BTC).toEqual({ free: 0.5, used: 0.5, total: 1 });
    expect((await bob.fetchBalance()).USDT).toEqual({ free: 97_100, used: 2_900, total: 100_000 });
    expect(sides(await bob.fetchOrderBook(SYMBOL))).toEqual({ bids: [[29_000, 0.1]], asks: [[30_000, 0.5]] });
  });

  it("a crossing limit buy trades: FULL fills with the taker commission; the wallet settles", async () => {
    const buy = await bob.createOrder(SYMBOL, "limit", "buy", 0.2, 30_100);
    expect(buy).toMatchObject({
      status: "closed",
      price: 30_100,
      amount: 0.2,
      filled: 0.2,
      remaining: 0,
      cost: 6_000,
      average: 30_000,
      fee: { currency: "BTC", cost: 0.0004 }, // taker 20 bps of the 0.2 BTC received
    });
    expect(buy.trades).toHaveLength(1);
    expect(buy.trades[0]).toMatchObject({
      price: 30_000,
      amount: 0.2,
      cost: 6_000,
      fee: { currency: "BTC", cost: 0.0004 },
    });
    ids.cross = buy.id;
    // 2 900 still held for the 29 000 bid; 6 000 paid; the 20 reserved above 30 000 released.
    await settled(bob, "BTC", { free: 0.1996, used: 0, total: 0.1996 });
    await settled(bob, "USDT", { free: 91_100, used: 2_900, total: 94_000 });
    await settled(alice, "USDT", { free: 5_994, used: 0, total: 5_994 }); // maker 10 bps of 6 000
  });

  it("market orders: buy by amount, buy by cost (quoteOrderQty), sell by amount", async () => {
    const byAmount = await bob.createOrder(SYMBOL, "market", "buy", 0.01);
    expect(byAmount).toMatchObject({
      type: "market",
      side: "buy",
      status: "closed",
      amount: 0.01,
      filled: 0.01,
      cost: 300,
      average: 30_000,
      fee: { currency: "BTC", cost: 0.00002 },
    });
    ids.marketBuy = byAmount.id;

    const byCost = await bob.createMarketBuyOrderWithCost(SYMBOL, 300);
    expect(byCost).toMatchObject({
      type: "market",
      status: "closed",
      filled: 0.01,
      cost: 300,
      average: 30_000,
    });
    expect(byCost.info.origQuoteOrderQty).toBe("300.00000000"); // sent as quoteOrderQty
    ids.marketCost = byCost.id;

    const sell = await alice.createOrder(SYMBOL, "market", "sell", 0.05);
    expect(sell).toMatchObject({
      type: "market",
      side: "sell",
      status: "closed",
      filled: 0.05,
      cost: 1_450,
      average: 29_000,
      fee: { currency: "USDT", cost: 2.9 }, // taker 20 bps of 1 450 USDT received
    });
    ids.marketSell = sell.id;
  });

  it("fetchOrder, fetchOpenOrders, fetchOrders and fetchClosedOrders read the projection", async () => {
    const ask = await alice.fetchOrder(ids.ask!, SYMBOL);
    expect(ask).toMatchObject({
      id: ids.ask,
      clientOrderId: "ccxt-ask",
      status: "open", // PARTIALLY_FILLED
      amount: 0.5,
      filled: 0.22,
      remaining: 0.28,
      cost: 6_600,
      average: 30_000,
    });
    const byClientId = await alice.fetchOrder("", SYMBOL, { clientOrderId: "ccxt-ask" });
    expect(byClientId.id).toBe(ids.ask);

    expect((await alice.fetchOpenOrders(SYMBOL)).map((o) => o.id)).toEqual([ids.ask]);
    const bobOpen = await bob.fetchOpenOrders(SYMBOL);
    expect(bobOpen).toHaveLength(1);
    expect(bobOpen[0]).toMatchObject({
      id: ids.bid,
      status: "open",
      filled: 0.05,
      remaining: 0.05,
      average: 29_000,
    });

    const all = await bob.fetchOrders(SYMBOL);
    expect(all.map((o) => [o.id, o.type, o.status, o.filled])).toEqual([
      [ids.bid, "limit", "open", 0.05],
      [ids.cross, "limit", "closed", 0.2],
      [ids.marketBuy, "market", "closed", 0.01],
      [ids.marketCost, "market", "closed", 0.01],
    ]);
    expect((await bob.fetchClosedOrders(SYMBOL)).map((o) => o.id)).toEqual([
      ids.cross,
      ids.marketBuy,
      ids.marketCost,
    ]);
    expect((await alice.fetchClosedOrders(SYMBOL)).map((o) => o.id)).toEqual([ids.marketSell]);
  });

  it("fetchMyTrades: sides, maker/taker and the commission the wallet books; balances match", async () => {
    const bobTrades = await bob.fetchMyTrades(SYMBOL);
    expect(bobTrades.map((t) => [t.order, t.side, t.takerOrMaker, t.price, t.amount, t.cost, t.fee])).toEqual(
      [
        [ids.cross, "buy", "taker", 30_000, 0.2, 6_000, { currency: "BTC", cost: 0.0004 }],
        [ids.marketBuy, "buy", "taker", 30_000, 0.01, 300, { currency: "BTC", cost: 0.00002 }],
        [ids.marketCost, "buy", "taker", 30_000, 0.01, 300, { currency: "BTC", cost: 0.00002 }],
        [ids.bid, "buy", "maker", 29_000, 0.05, 1_450, { currency: "BTC", cost: 0.00005 }],
      ],
    );
    const aliceTrades = await alice.fetchMyTrades(SYMBOL);
    expect(aliceTrades.map((t) => [t.order, t.side, t.takerOrMaker, t.amount, t.fee])).toEqual([
      [ids.ask, "sell", "maker", 0.2, { currency: "USDT", cost: 6 }],
      [ids.ask, "sell", "maker", 0.01, { currency: "USDT", cost: 0.3 }],
      [ids.ask, "sell", "maker", 0.01, { currency: "USDT", cost: 0.3 }],
      [ids.marketSell, "sell", "taker", 0.05, { currency: "USDT", cost: 2.9 }],
    ]);
    // The same trade, seen from both sides.
    expect(aliceTrades[0]!.id).toBe(bobTrades[0]!.id);
    const ofOrder = await bob.fetchOrderTrades(ids.cross!, SYMBOL);
    expect(ofOrder.map((t) => t.id)).toEqual([bobTrades[0]!.id]);

    // What was received minus the commissions above, and the open orders' holds.
    await settled(alice, "BTC", { free: 0.45, used: 0.28, total: 0.73 });
    await settled(alice, "USDT", { free: 8_040.5, used: 0, total: 8_040.5 });
    await settled(bob, "BTC", { free: 0.26951, used: 0, total: 0.26951 });
    await settled(bob, "USDT", { free: 90_500, used: 1_450, total: 91_950 });
  });

  it("fetchTicker / fetchTickers, fetchOrderBook, fetchTrades and fetchOHLCV reflect the trades", async () => {
    // The market-data projection follows the engine's events asynchronously.
    await waitUntil("ticker", async () => (await alice.fetchTicker(SYMBOL)).baseVolume === 0.27);
    const ticker = await alice.fetchTicker(SYMBOL);
    expect(ticker).toMatchObject({
      symbol: SYMBOL,
      open: 30_000,
      high: 30_000,
      low: 29_000,
      last: 29_000,
      close: 29_000,
      change: -1_000,
      percentage: -3.333,
      vwap: 29_814.81481481, // 8 050 / 0.27
      baseVolume: 0.27,
      quoteVolume: 8_050,
      bid: 29_000,
      bidVolume: 0.05,
      ask: 30_000,
      askVolume: 0.28,
    });
    const tickers = await alice.fetchTickers();
    expect(Object.keys(tickers)).toEqual([SYMBOL]);
    expect(tickers[SYMBOL]).toMatchObject({ last: 29_000, baseVolume: 0.27, quoteVolume: 8_050 });
    expect((await alice.fetchTickers([SYMBOL]))[SYMBOL]?.last).toBe(29_000);

    const book = await alice.fetchOrderBook(SYMBOL);
    expect(sides(book)).toEqual({ bids: [[29_000, 0.05]], asks: [[30_000, 0.28]] });
    expect(book.nonce).toBeGreaterThan(0); // lastUpdateId

    const trades = await alice.fetchTrades(SYMBOL);
    expect(trades.map((t) => [t.side, t.price, t.amount, t.cost])).toEqual([
      ["buy", 30_000, 0.2, 6_000],
      ["buy", 30_000, 0.01, 300],
      ["buy", 30_000, 0.01, 300],
      ["sell", 29_000, 0.05, 1_450],
    ]);
    const since = await alice.fetchTrades(SYMBOL, trades[1]!.timestamp);
    expect(since.map((t) => t.id)).toEqual(trades.slice(1).map((t) => t.id));

    // The trades may straddle a minute: the candles add up to them.
    const candles = await alice.fetchOHLCV(SYMBOL, "1m");
    expect(candles.length).toBeGreaterThanOrEqual(1);
    expect(candles[0]![1]).toBe(30_000); // open
    expect(candles.at(-1)![4]).toBe(29_000); // close
    expect(Math.max(...candles.map((c) => c[2]!))).toBe(30_000);
    expect(Math.min(...candles.map((c) => c[3]!))).toBe(29_000);
    expect(candles.reduce((sum, c) => sum + Math.round(c[5]! * 1e8), 0)).toBe(27_000_000); // 0.27 BTC
  });

  it("pro watchOrderBook / watchTrades / watchTicker and watchOrders / watchMyTrades / watchBalance", async () => {
    pro = new BinancePro(ccxtConfig(gw.url, aliceKey));
    await pro.loadHttpProxyAgent(); // ccxt's requirement for plain ws:// URLs
    let watched = await within(pro.watchOrderBook(SYMBOL), "first book");
    expect(sides(watched)).toEqual({ bids: [[29_000, 0.05]], asks: [[30_000, 0.28]] });
    const tradesWatch = pro.watchTrades(SYMBOL);
    const tickerWatch = pro.watchTicker(SYMBOL);
    await pro.authenticate(); // userDataStream.subscribe.signature on the WebSocket API
    const ordersWatch = pro
      .watchOrders(SYMBOL)
      .then((orders) => orders.map((o) => [o.id, o.side, o.price, o.amount, o.status]));
    const myTradesWatch = pro.watchMyTrades(SYMBOL);
    // ccxt updates the structures it resolved with in place: copy them when they resolve.
    const balanceWatch = pro.watchBalance().then((b) => ({ ...b.BTC }));
    await waitUntil(
      "subscribed",
      () => gw.md.hub.has("btcusdt@trade") && gw.md.hub.has("btcusdt@miniTicker"),
    );

    const ask = await alice.createOrder(SYMBOL, "limit", "sell", 0.01, 30_500);
    const bid = await bob.createOrder(SYMBOL, "limit", "buy", 0.01, 28_500);
    const taker = await bob.createOrder(SYMBOL, "limit", "buy", 0.05, 30_000);
    expect(taker).toMatchObject({ status: "closed", filled: 0.05 });
    ids.wsAsk = ask.id;
    ids.wsBid = bid.id;

    // The book the diff stream maintains converges to the REST snapshot.
    const expected = {
      bids: [
        [29_000, 0.05],
        [28_500, 0.01],
      ],
      asks: [
        [30_000, 0.23],
        [30_500, 0.01],
      ],
    };
    const deadline = Date.now() + 20_000;
    while (JSON.stringify(sides(watched)) !== JSON.stringify(expected) && Date.now() < deadline) {
      watched = await within(pro.watchOrderBook(SYMBOL), "book update");
    }
    expect(sides(watched)).toEqual(expected);
    const restBook = await alice.fetchOrderBook(SYMBOL);
    expect(sides(restBook)).toEqual(expected);
    expect(watched.nonce).toBe(restBook.nonce);

    const trades = await within(tradesWatch, "trade");
    expect(trades.map((t) => [t.side, t.price, t.amount])).toEqual([["buy", 30_000, 0.05]]);
    const ticker = await within(tickerWatch, "miniTicker");
    expect(ticker).toMatchObject({ symbol: SYMBOL, last: 30_000, open: 30_000, high: 30_000, low: 29_000 });
    expect(ticker.baseVolume).toBe(0.32);
    expect(ticker.quoteVolume).toBe(9_550);

    // watchOrders resolves with the first executionReport (the new ask); later ones fill ccxt's cache.
    expect(await within(ordersWatch, "executionReport")).toEqual([[ids.wsAsk, "sell", 30_500, 0.01, "open"]]);
    const cached = () => [...(pro.orders as unknown as Order[])].find((o) => o.id === ids.ask);
    await waitUntil("executionReport TRADE", () => cached()?.filled === 0.27);
    expect(cached()).toMatchObject({ status: "open", filled: 0.27, remaining: 0.23, average: 30_000 });
    const myTrades = await within(myTradesWatch, "executionReport TRADE");
    expect(myTrades.map((t) => [t.order, t.side, t.takerOrMaker, t.price, t.amount, t.fee])).toEqual([
      [ids.ask, "sell", "maker", 30_000, 0.05, { currency: "USDT", cost: 1.5 }],
    ]);

    // outboundAccountPosition: the first one after the subscription is the new ask's hold; the
    // balances ccxt keeps from them converge to fetchBalance once the wallet settled the trade.
    const held = await within(balanceWatch, "outboundAccountPosition");
    expect(held).toEqual({ free: 0.44, used: 0.29, total: 0.73 });
    const usdt = 8_040.5 + 1_498.5; // + 1 500 - maker 10 bps
    const rest = await settled(alice, "USDT", { free: usdt, used: 0, total: usdt });
    const streamed = () => (pro.balance as unknown as Record<string, Balances>).spot;
    await waitUntil("outboundAccountPosition after settlement", () => streamed()?.USDT?.total === usdt);
    expect(streamed()!.USDT).toEqual(rest.USDT);
    expect(streamed()!.BTC).toEqual(rest.BTC);
    expect(rest.BTC).toEqual({ free: 0.44, used: 0.24, total: 0.68 });
  });

  it("cancelOrder and cancelAllOrders cancel in the engine and the wallet releases the holds", async () => {
    const cancelled = await bob.cancelOrder(ids.bid!, SYMBOL);
    expect(cancelled).toMatchObject({ id: ids.bid, status: "canceled", filled: 0.05, remaining: 0.05 });
    const bobAll = await bob.cancelAllOrders(SYMBOL);
    expect(bobAll.map((o) => [o.id, o.status])).toEqual([[ids.wsBid, "canceled"]]);
    const aliceAll = await alice.cancelAllOrders(SYMBOL);
    expect(aliceAll.map((o) => [o.id, o.status]).sort()).toEqual(
      [
        [ids.ask, "canceled"],
        [ids.wsAsk, "canceled"],
      ].sort(),
    );
    await waitUntil("projection", async () => (await bob.fetchOpenOrders(SYMBOL)).length === 0);
    await waitUntil("projection", async () => (await alice.fetchOpenOrders(SYMBOL)).length === 0);
    expect((await alice.fetchOrder(ids.ask!, SYMBOL)).status).toBe("canceled");
    await settled(bob, "USDT", { free: 90_450, used: 0, total: 90_450 }); // 1 500 paid in the watch test
    await settled(alice, "BTC", { free: 0.68, used: 0, total: 0.68 });
    expect(sides(await alice.fetchOrderBook(SYMBOL))).toEqual({ bids: [], asks: [] });
  });

  it("Binance error codes come out as ccxt's exception classes and change nothing", async () => {
    const aliceBefore = await alice.fetchBalance();
    const bobBefore = await bob.fetchBalance();
    await alice.createOrder(SYMBOL, "limit", "sell", 0.01, 31_000, { clientOrderId: "ccxt-resting" });

    // -2010 insufficient balance
    expect(await refusal(alice.createOrder(SYMBOL, "limit", "sell", 50, 30_000))).toEqual({
      type: ccxt.InsufficientFunds,
      message: "binance Account has insufficient balance for requested action.",
    });
    // -2010 post-only that would take (LIMIT_MAKER)
    expect(await refusal(bob.createOrder(SYMBOL, "limit", "buy", 0.01, 31_000, { postOnly: true }))).toEqual({
      type: ccxt.OrderImmediatelyFillable,
      message: "binance Order would immediately match and take.",
    });
    // -1013 filter failures: PRICE_FILTER and LOT_SIZE are InvalidOrder, NOTIONAL is ccxt's BadRequest
    const market = alice.market(SYMBOL);
    const aboveMaxPrice = await refusal(
      alice.createOrder(SYMBOL, "limit", "sell", 0.01, market.limits.price!.max! * 2),
    );
    expect(aboveMaxPrice.type).toBe(ccxt.InvalidOrder);
    expect(aboveMaxPrice.message).toContain('{"code":-1013,"msg":"Filter failure: PRICE_FILTER"}');
    const aboveMaxAmount = await refusal(alice.createOrder(SYMBOL, "limit", "sell", 1e12, 30_000));
    expect(aboveMaxAmount.type).toBe(ccxt.InvalidOrder);
    expect(aboveMaxAmount.message).toContain('{"code":-1013,"msg":"Filter failure: LOT_SIZE"}');
    const offStep = await refusal(
      alice.privatePostOrder({
        symbol: "BTCUSDT",
        side: "SELL",
        type: "LIMIT",
        timeInForce: "GTC",
        quantity: "0.00005", // ccxt's amountToPrecision would have truncated it: sent raw
        price: "30000",
      }),
    );
    expect(offStep.type).toBe(ccxt.InvalidOrder);
    expect(offStep.message).toContain("Filter failure: LOT_SIZE");
    expect(await refusal(alice.createOrder(SYMBOL, "limit", "sell", 0.0001, 100))).toEqual({
      type: ccxt.BadRequest,
      message: 'binance {"code":-1013,"msg":"Filter failure: NOTIONAL"}',
    });
    // -2011 / -2013 unknown order
    expect(await refusal(alice.cancelOrder("987654321", SYMBOL))).toEqual({
      type: ccxt.OrderNotFound,
      message: 'binance {"code":-2011,"msg":"Unknown order sent."}',
    });
    expect(await refusal(alice.fetchOrder("987654321", SYMBOL))).toEqual({
      type: ccxt.OrderNotFound,
      message: 'binance {"code":-2013,"msg":"Order does not exist."}',
    });
    // -1121 unknown symbol (ccxt checks unified symbols itself; the raw endpoint reaches the gateway)
    expect(await refusal(alice.publicGetDepth({ symbol: "NOPEUSDT" }))).toEqual({
      type: ccxt.BadSymbol,
      message: 'binance {"code":-1121,"msg":"Invalid symbol."}',
    });

    // Authentication: -1022 bad signature, -2014 malformed key, -2015 unknown key / missing permission,
    // -1021 timestamp outside recvWindow.
    const withKey = (apiKey: string, secret: string, options: object = {}) => {
      const config = ccxtConfig(gw.url);
      return new Binance({ ...config, apiKey, secret, options: { ...config.options, ...options } });
    };
    expect(await refusal(withKey(aliceKey.apiKey, "x".repeat(64)).fetchBalance())).toEqual({
      type: ccxt.AuthenticationError,
      message: 'binance {"code":-1022,"msg":"Signature for this request is not valid."}',
    });
    expect(await refusal(withKey("short", "x").fetchBalance())).toEqual({
      type: ccxt.AuthenticationError,
      message: 'binance {"code":-2014,"msg":"API-key format invalid."}',
    });
    expect(await refusal(withKey("A".repeat(64), "x").fetchBalance())).toEqual({
      type: ccxt.AuthenticationError,
      message: 'binance {"code":-2015,"msg":"Invalid API-key, IP, or permissions for action."}',
    });
    const readOnly = await createKey(gw.url, "alice", ["read"]);
    expect(
      await refusal(
        withKey(readOnly.apiKey, readOnly.secretKey).createOrder(SYMBOL, "limit", "sell", 0.01, 40_000),
      ),
    ).toEqual({
      type: ccxt.AuthenticationError,
      message: 'binance {"code":-2015,"msg":"Invalid API-key, IP, or permissions for action."}',
    });
    const ahead = withKey(aliceKey.apiKey, aliceKey.secretKey, { timeDifference: -120_000 }); // 2 min ahead
    expect(await refusal(ahead.fetchBalance())).toEqual({
      type: ccxt.InvalidNonce,
      message: 'binance {"code":-1021,"msg":"Timestamp for this request is outside of the recvWindow."}',
    });

    // Nothing changed: the one resting order and its hold, nothing else.
    expect((await alice.fetchOpenOrders(SYMBOL)).map((o) => o.clientOrderId)).toEqual(["ccxt-resting"]);
    expect(await bob.fetchOpenOrders(SYMBOL)).toEqual([]);
    const aliceAfter = await alice.fetchBalance();
    expect(aliceBefore.BTC).toEqual({ free: 0.68, used: 0, total: 0.68 });
    expect(aliceAfter.BTC).toEqual({ free: 0.67, used: 0.01, total: 0.68 });
    expect(aliceAfter.USDT).toEqual(aliceBefore.USDT);
    expect((await bob.fetchBalance()).total).toEqual(bobBefore.total);
    await alice.cancelAllOrders(SYMBOL);
  });

  it("the filters' maxima are the enforced bounds: the largest price passes, one tick more fails", async () => {
    const priceFilter = (
      alice.market(SYMBOL).info.filters as { filterType: string; maxPrice: string }[]
    ).find((f) => f.filterType === "PRICE_FILTER")!;
    expect(priceFilter.maxPrice).toBe("90071992547409.91000000");
    const order = (price: string) =>
      alice.privatePostOrder({
        symbol: "BTCUSDT",
        side: "SELL",
        type: "LIMIT",
        timeInForce: "GTC",
        quantity: "0.0001",
        price,
      });
    const atMax = await order(priceFilter.maxPrice);
    expect(atMax).toMatchObject({ status: "NEW", price: "90071992547409.91000000" });
    const aboveMax = await refusal(order("90071992547409.92"));
    expect(aboveMax.type).toBe(ccxt.InvalidOrder);
    expect(aboveMax.message).toContain("Filter failure: PRICE_FILTER");
    // ccxt's limits.price.max is a float (…409.906): priceToPrecision sends …409.90, inside the bound.
    const viaCcxt = await alice.createOrder(
      SYMBOL,
      "limit",
      "sell",
      0.0001,
      alice.market(SYMBOL).limits.price!.max!,
    );
    expect(viaCcxt).toMatchObject({ status: "open", amount: 0.0001 });
    expect(viaCcxt.info.price).toBe("90071992547409.90000000");
    expect((await alice.cancelAllOrders(SYMBOL)).map((o) => o.status)).toEqual(["canceled", "canceled"]);
  });

  it("every request ccxt made went to the gateway", () => {
    expect(requested.length).toBeGreaterThan(40);
    expect(requested.filter((r) => !r.split(" ")[1]!.startsWith(`${gw.url}/api/v3/`))).toEqual([]);
  });
});
