/**
 * Profiling helper: replays a stream on our book only. `npx tsx --cpu-prof bench/profile.ts [multi]`
 * (multi: MKTS markets, default 1000; WEIGHTS=pareto for the bench's Pareto market weights, default
 * uniform). For where the cache misses are, sample with perf and V8's JIT map instead:
 * `perf record -k 1 -e cpu-clock -- npx tsx --perf-prof bench/profile.ts multi`, then
 * `perf inject --jit` and `perf annotate` (the instruction after a missing load collects the samples).
 */
import { FastBook } from "../src/book/fast-book.ts";
import type { BookSink } from "../src/book/types.ts";
import { Engine, type EngineSink } from "../src/engine.ts";
import { generate, OP_CANCEL, OP_GTC, OP_IOC } from "./workload.ts";

const multi = process.argv.includes("multi");
const w = multi
  ? generate({
      name: "multi",
      markets: Number(process.env.MKTS ?? 1000),
      accounts: 10_000,
      restingPerMarket: 100,
      spreadTicks: 90,
      commands: 600_000,
      seed: 43,
      weights: process.env.WEIGHTS === "pareto" ? "pareto" : "uniform",
    })
  : generate({
      name: "single",
      markets: 1,
      accounts: 2000,
      restingPerMarket: 1000,
      spreadTicks: 1200,
      commands: 1_000_000,
      seed: 42,
    });
const noop = () => {};
const sink: EngineSink = {
  accepted: noop,
  rejected: noop,
  trade: noop,
  cancelled: noop,
  expired: noop,
  replaced: noop,
  triggered: noop,
  depth: noop,
  marketChanged: noop,
  adminRejected: noop,
};
for (let round = 0; round < 5; round++) {
  const engine = new Engine(sink);
  for (const s of w.specs) engine.addMarket(s);
  const single = new FastBook(0, w.specs[0]!, sink as BookSink, { initialOrders: 4096 });
  const place = {
    orderId: 0,
    account: 0,
    clientOrderId: "",
    side: 1 as 1 | 2,
    type: 1 as const,
    timeInForce: 1 as 1 | 2,
    price: 0,
    quantity: 0,
    quoteOrderQty: 0,
    stopPrice: 0,
    stp: 0 as const,
    reserved: 0,
  };
  const cancel = { account: 0, orderId: 0, clientOrderId: "" };
  const repl = {
    account: 0,
    orderId: 0,
    clientOrderId: "",
    newOrderId: 0,
    newClientOrderId: "",
    newPrice: 0,
    newQuantity: 0,
  };
  let t0 = 0;
  let c0 = process.cpuUsage();
  for (let i = 0; i < w.n; i++) {
    if (i === w.prefill) {
      t0 = performance.now();
      c0 = process.cpuUsage();
    }
    const o = w.op[i]!;
    const b = multi ? engine.book(w.symbols[w.mkt[i]!]!)! : single;
    if (o === OP_GTC || o === OP_IOC) {
      const id = w.id[i]!;
      place.orderId = id;
      place.account = w.acc[i]!;
      place.clientOrderId = w.cidStr[id]!;
      place.side = w.side[i] as 1 | 2;
      place.timeInForce = o === OP_GTC ? 1 : 2;
      place.price = w.price[i]!;
      place.quantity = w.qty[i]!;
      b.place(place, i);
    } else if (o === OP_CANCEL) {
      cancel.account = w.acc[i]!;
      cancel.orderId = w.id[i]!;
      b.cancel(cancel, i);
    } else {
      repl.account = w.acc[i]!;
      repl.orderId = w.id[i]!;
      repl.newPrice = w.price[i]!;
      b.replace(repl, i);
    }
  }
  const dt = (performance.now() - t0) / 1000;
  const cu = process.cpuUsage(c0);
  const cpu = (cu.user + cu.system) / 1e6;
  console.log(
    `round ${round}: wall ${((w.n - w.prefill) / dt / 1e6).toFixed(3)}M ops/s, cpu-time ${((w.n - w.prefill) / cpu / 1e6).toFixed(3)}M ops/s`,
  );
}
