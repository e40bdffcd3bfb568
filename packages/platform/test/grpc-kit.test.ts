import { connect } from "node:http2";
import { BinaryReader } from "@bufbuild/protobuf/wire";
import {
  type ListMarketsResponse,
  type MarketSpec,
  MarketStatus,
  MatchingEngineClient,
  MatchingEngineService,
} from "@excraft/proto";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createGrpcServer,
  createLogger,
  createMetrics,
  errorDetailsOf,
  type GrpcServer,
  grpcError,
  type OpsServer,
  Readiness,
  startOpsServer,
} from "../src/index";
import {
  KitTestClient,
  type KitTestProbe,
  kitTestDefinition,
  kitTestImplementation,
} from "./fixtures/kit-test-service";
import { failure, HealthClient, memoryDestination, ReflectionClient, sample, unary } from "./helpers";

/** `package.Service` names declared by a serialized FileDescriptorProto (fields 2 and 6). */
function servicesIn(bytes: Uint8Array): string[] {
  const reader = new BinaryReader(bytes);
  let pkg = "";
  const services: string[] = [];
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 2) pkg = reader.string();
    else if (field === 6) {
      const service = new BinaryReader(reader.bytes());
      while (service.pos < service.len) {
        const [f, w] = service.tag();
        if (f === 1) services.push(service.string());
        else service.skip(w);
      }
    } else reader.skip(wireType);
  }
  return services.map((name) => `${pkg}.${name}`);
}

function market(symbol: string): MarketSpec {
  return {
    symbol,
    baseAsset: symbol.slice(0, 3),
    quoteAsset: symbol.slice(3),
    priceScale: 2,
    quantityScale: 6,
    tickSize: 1n,
    stepSize: 1n,
    minQty: 1n,
    maxQty: 1_000_000_000n,
    minPrice: 1n,
    maxPrice: 100_000_000n,
    minNotional: 1_000n,
    status: MarketStatus.TRADING,
    defaultStp: 0,
    shard: 0,
  };
}

/** A real MatchingEngine read side over an in-memory map of markets (no books yet: empty levels). */
function matchingEngine(markets: Map<string, MarketSpec>) {
  return {
    async listMarkets(
      _call: grpc.ServerUnaryCall<unknown, ListMarketsResponse>,
      callback: grpc.sendUnaryData<ListMarketsResponse>,
    ) {
      callback(null, { markets: [...markets.values()] });
    },
    async getOrderBook(
      call: grpc.ServerUnaryCall<{ symbol: string; depth: number }, unknown>,
      callback: grpc.sendUnaryData<unknown>,
    ) {
      const spec = markets.get(call.request.symbol);
      if (!spec)
        throw grpcError(grpc.status.NOT_FOUND, `unknown symbol ${call.request.symbol}`, {
          code: "UNKNOWN_SYMBOL",
          field: "symbol",
        });
      callback(null, { symbol: spec.symbol, lastUpdateId: 0n, bids: [], asks: [] });
    },
    async getOrder() {
      throw grpcError(grpc.status.NOT_FOUND, "no such order", { code: "UNKNOWN_ORDER", field: "order_id" });
    },
  };
}

describe("gRPC server kit (real server on loopback)", () => {
  const log = memoryDestination();
  const logger = createLogger({ name: "kit-test", level: "debug", destination: log.stream });
  const metrics = createMetrics({ defaultLabels: { service: "kit-test" } });
  const readiness = new Readiness();
  let dependencyUp = true;
  readiness.register("dependency", () => {
    if (!dependencyUp) throw new Error("dependency down");
  });
  const probe: KitTestProbe = { slowStarted: 0, slowAborted: 0, slowFinished: 0, requestIdsSeen: [] };
  const markets = new Map([
    ["BTCUSDT", market("BTCUSDT")],
    ["ETHUSDT", market("ETHUSDT")],
  ]);
  let server: GrpcServer;
  let ops: OpsServer;
  let kit: grpc.Client;
  let engine: MatchingEngineClient;
  let health: grpc.Client;

  beforeAll(async () => {
    server = await createGrpcServer({
      name: "kit-test",
      host: "127.0.0.1",
      port: 0,
      logger,
      metrics,
      maxHandlingMs: 300,
      services: [
        { definition: MatchingEngineService, implementation: matchingEngine(markets) },
        { definition: kitTestDefinition, implementation: kitTestImplementation(probe) },
      ],
    });
    ops = await startOpsServer({ host: "127.0.0.1", port: 0, metrics, readiness, logger });
    const insecure = grpc.credentials.createInsecure();
    kit = new KitTestClient(server.address, insecure);
    engine = new MatchingEngineClient(server.address, insecure);
    health = new HealthClient(server.address, insecure);
  });

  afterAll(async () => {
    kit?.close();
    engine?.close();
    health?.close();
    await server?.drain(1_000);
    await ops?.close();
  });

  it("answers grpc.health.v1.Health/Check for the server and each service", async () => {
    const overall = await unary<{ status: string }>(health, "Check", { service: "" });
    expect(overall.reply.status).toBe("SERVING");
    const me = await unary<{ status: string }>(health, "Check", { service: "excraft.v1.MatchingEngine" });
    expect(me.reply.status).toBe("SERVING");
    const kt = await unary<{ status: string }>(health, "Check", { service: "excraft.test.v1.KitTest" });
    expect(kt.reply.status).toBe("SERVING");
    const unknown = await failure(unary(health, "Check", { service: "excraft.v1.Nope" }));
    expect(unknown.code).toBe(grpc.status.NOT_FOUND);
  });

  it("serves a ts-proto generated service and sends errors as status + ErrorDetail", async () => {
    const list = await new Promise<ListMarketsResponse>((resolve, reject) =>
      engine.listMarkets({}, (error, reply) => (error ? reject(error) : resolve(reply))),
    );
    expect(list.markets.map((m) => m.symbol).sort()).toEqual(["BTCUSDT", "ETHUSDT"]);
    expect(list.markets[0]!.maxQty).toBe(1_000_000_000n);

    const error = await failure(
      new Promise((resolve, reject) =>
        engine.getOrderBook({ symbol: "DOGEUSDT", depth: 5 }, (e, reply) => (e ? reject(e) : resolve(reply))),
      ),
    );
    expect(error.code).toBe(grpc.status.NOT_FOUND);
    expect(error.details).toBe("unknown symbol DOGEUSDT");
    expect(errorDetailsOf(error.metadata)).toEqual([
      { code: "UNKNOWN_SYMBOL", message: "unknown symbol DOGEUSDT", field: "symbol" },
    ]);
  });

  it("answers an unexpected handler error with INTERNAL and the request id, never its message", async () => {
    const md = new grpc.Metadata();
    md.set("x-request-id", "req-plain-error");
    const error = await failure(unary(kit, "Fail", { plain: true }, { metadata: md }));
    expect(error.code).toBe(grpc.status.INTERNAL);
    expect(error.details).toBe("Internal error (request id req-plain-error)");
    expect(error.details).not.toContain("hunter2");
    const precondition = await failure(unary(kit, "Fail", { plain: false }));
    expect(precondition.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(errorDetailsOf(precondition.metadata)[0]).toMatchObject({
      code: "MARKET_HALTED",
      field: "symbol",
    });
  });

  it("propagates x-request-id: kept from the caller, echoed, in the handler's context and in logs", async () => {
    const md = new grpc.Metadata();
    md.set("x-request-id", "req-abc-123");
    const given = await unary<{ text: string; requestId: string }>(
      kit,
      "Echo",
      { text: "hi" },
      { metadata: md },
    );
    expect(given.reply).toEqual({ text: "hi", requestId: "req-abc-123" });
    expect(given.headers.get("x-request-id")).toEqual(["req-abc-123"]);

    const generated = await unary<{ text: string; requestId: string }>(kit, "Echo", { text: "no id" });
    expect(generated.reply.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(generated.headers.get("x-request-id")).toEqual([generated.reply.requestId]);

    const failed = await failure(unary(kit, "Fail", { plain: false }, { metadata: md }));
    expect(failed.metadata.get("x-request-id")).toEqual(["req-abc-123"]);

    const callLog = log.records().find((r) => r.requestId === "req-abc-123" && r.grpcMethod === "Echo");
    expect(callLog).toMatchObject({
      grpcService: "excraft.test.v1.KitTest",
      grpcCode: "OK",
      service: "kit-test",
    });
  });

  it("streams both ways and cuts a failing server stream with its status", async () => {
    const counted = await new Promise<number[]>((resolve, reject) => {
      const got: number[] = [];
      const call = (
        kit as unknown as { Count(req: unknown): grpc.ClientReadableStream<{ value: number }> }
      ).Count({ value: 3 });
      call.on("data", (n: { value: number }) => got.push(n.value));
      call.on("end", () => resolve(got));
      call.on("error", reject);
    });
    expect(counted).toEqual([1, 2, 3]);

    const tooMany = await new Promise<{ got: number; error: grpc.ServiceError }>((resolve) => {
      let got = 0;
      const call = (
        kit as unknown as { Count(req: unknown): grpc.ClientReadableStream<{ value: number }> }
      ).Count({ value: 101 });
      call.on("data", () => got++);
      call.on("error", (error: grpc.ServiceError) => resolve({ got, error }));
    });
    expect(tooMany.got).toBe(100);
    expect(tooMany.error.code).toBe(grpc.status.OUT_OF_RANGE);
    expect(errorDetailsOf(tooMany.error.metadata)[0]?.code).toBe("TOO_MANY");

    const sum = await new Promise<number>((resolve, reject) => {
      const call = (
        kit as unknown as {
          Sum(
            cb: (e: grpc.ServiceError | null, r: { value: number }) => void,
          ): grpc.ClientWritableStream<unknown>;
        }
      ).Sum((e, r) => (e ? reject(e) : resolve(r.value)));
      for (const value of [5, 7, 30]) call.write({ value });
      call.end();
    });
    expect(sum).toBe(42);
  });

  it("enforces the server's max handling time: DEADLINE_EXCEEDED and the handler's signal aborted", async () => {
    const before = { ...probe };
    const started = performance.now();
    const error = await failure(unary(kit, "Slow", { ms: 2_000 })); // no client deadline
    const elapsed = performance.now() - started;
    expect(error.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(error.details).toContain("server limit of 300 ms");
    expect(elapsed).toBeGreaterThanOrEqual(280);
    expect(elapsed).toBeLessThan(1_500);
    expect(probe.slowStarted).toBe(before.slowStarted + 1);
    expect(probe.slowAborted).toBe(before.slowAborted + 1);
  });

  it("answers DEADLINE_EXCEEDED for a client deadline, and for a call already past it without running the handler", async () => {
    const clientDeadline = await failure(unary(kit, "Slow", { ms: 1_000 }, { deadline: 100 }));
    expect(clientDeadline.code).toBe(grpc.status.DEADLINE_EXCEEDED);

    // A raw HTTP/2 gRPC request whose grpc-timeout is already used up on arrival.
    const startedBefore = probe.slowStarted;
    const trailers = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const session = connect(`http://${server.address}`);
      session.on("error", reject);
      const req = session.request({
        ":method": "POST",
        ":path": "/excraft.test.v1.KitTest/Slow",
        "content-type": "application/grpc",
        te: "trailers",
        "grpc-timeout": "1n",
        "x-request-id": "req-expired",
      });
      let headers: Record<string, unknown> = {};
      req.on("response", (h) => {
        headers = h;
      });
      req.on("trailers", (t) => {
        headers = { ...headers, ...t };
      });
      req.on("end", () => {
        session.close();
        resolve(headers);
      });
      req.on("error", reject);
      req.resume();
      req.end(Buffer.from([0, 0, 0, 0, 2, 0x08, 0x05])); // SlowRequest{ms: 5}
    });
    expect(trailers["grpc-status"]).toBe(String(grpc.status.DEADLINE_EXCEEDED));
    expect(trailers["x-request-id"]).toBe("req-expired");
    await new Promise((r) => setTimeout(r, 50));
    expect(probe.slowStarted).toBe(startedBefore);
  });

  it("lists the services through server reflection and serves their descriptors", async () => {
    const client = new ReflectionClient(server.address, grpc.credentials.createInsecure());
    const ask = (request: Record<string, unknown>) =>
      new Promise<Record<string, unknown>>((resolve, reject) => {
        const call = (
          client as unknown as {
            ServerReflectionInfo(): grpc.ClientDuplexStream<unknown, Record<string, unknown>>;
          }
        ).ServerReflectionInfo();
        call.on("data", (reply) => {
          resolve(reply);
          call.end();
        });
        call.on("error", reject);
        call.write(request);
      });
    try {
      const listed = (await ask({ list_services: "" })) as {
        list_services_response: { service: { name: string }[] };
      };
      const names = listed.list_services_response.service.map((s) => s.name).sort();
      expect(names).toEqual([
        "excraft.test.v1.KitTest",
        "excraft.v1.MatchingEngine",
        "grpc.health.v1.Health",
      ]);
      const file = (await ask({ file_containing_symbol: "excraft.v1.MatchingEngine" })) as {
        file_descriptor_response?: { file_descriptor_proto: Buffer[] };
      };
      const protos = file.file_descriptor_response?.file_descriptor_proto ?? [];
      expect(protos.length).toBeGreaterThan(0);
      // proto-loader describes a package as one file (excraft_v1.proto) holding all its services.
      expect(protos.flatMap(servicesIn)).toContain("excraft.v1.MatchingEngine");
    } finally {
      client.close();
    }
  });

  it("exposes RED metrics for the called methods with the right codes on /metrics", async () => {
    const text = await (await fetch(`${ops.url}/metrics`)).text();
    const me = { grpc_service: "excraft.v1.MatchingEngine", grpc_type: "unary" };
    expect(sample(text, "grpc_server_started_total", { ...me, grpc_method: "ListMarkets" })).toBe(1);
    expect(
      sample(text, "grpc_server_handled_total", { ...me, grpc_method: "ListMarkets", grpc_code: "OK" }),
    ).toBe(1);
    expect(
      sample(text, "grpc_server_handled_total", {
        ...me,
        grpc_method: "GetOrderBook",
        grpc_code: "NotFound",
      }),
    ).toBe(1);
    expect(sample(text, "grpc_server_handling_seconds_count", { ...me, grpc_method: "ListMarkets" })).toBe(1);
    expect(
      sample(text, "grpc_server_handling_seconds_bucket", { ...me, grpc_method: "ListMarkets", le: "+Inf" }),
    ).toBe(1);
    expect(sample(text, "grpc_server_handling_seconds_count", { ...me, grpc_method: "GetOrderBook" })).toBe(
      1,
    );

    const kt = { grpc_service: "excraft.test.v1.KitTest" };
    expect(sample(text, "grpc_server_handled_total", { ...kt, grpc_method: "Echo", grpc_code: "OK" })).toBe(
      2,
    );
    expect(
      sample(text, "grpc_server_handled_total", { ...kt, grpc_method: "Fail", grpc_code: "Internal" }),
    ).toBe(1);
    expect(
      sample(text, "grpc_server_handled_total", {
        ...kt,
        grpc_method: "Fail",
        grpc_code: "FailedPrecondition",
      }),
    ).toBe(2);
    expect(
      sample(text, "grpc_server_handled_total", {
        ...kt,
        grpc_method: "Slow",
        grpc_code: "DeadlineExceeded",
      }),
    ).toBe(3);
    expect(
      sample(text, "grpc_server_handled_total", { ...kt, grpc_method: "Slow", grpc_code: "Canceled" }),
    ).toBeUndefined();
    expect(sample(text, "grpc_server_started_total", { ...kt, grpc_method: "Slow" })).toBe(3);
    expect(
      sample(text, "grpc_server_handled_total", {
        ...kt,
        grpc_method: "Count",
        grpc_type: "server_stream",
        grpc_code: "OK",
      }),
    ).toBe(1);
    expect(
      sample(text, "grpc_server_handled_total", {
        ...kt,
        grpc_method: "Count",
        grpc_type: "server_stream",
        grpc_code: "OutOfRange",
      }),
    ).toBe(1);
    expect(sample(text, "grpc_server_msg_sent_total", { ...kt, grpc_method: "Count" })).toBe(103);
    expect(
      sample(text, "grpc_server_msg_received_total", {
        ...kt,
        grpc_method: "Sum",
        grpc_type: "client_stream",
      }),
    ).toBe(3);
    expect(
      sample(text, "grpc_server_handled_total", { grpc_service: "grpc.health.v1.Health", grpc_code: "OK" }),
    ).toBe(3);
    expect(sample(text, "process_cpu_seconds_total", { service: "kit-test" })).toBeGreaterThan(0);
  });

  it("serves /healthz and /readyz from the registered checks, and counts HTTP routes", async () => {
    expect((await fetch(`${ops.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${ops.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: "ready", checks: { dependency: { ok: true } } });
    dependencyUp = false;
    const notReady = await fetch(`${ops.url}/readyz`);
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toMatchObject({
      checks: { dependency: { ok: false, error: "dependency down" } },
    });
    dependencyUp = true;
    const text = await (await fetch(`${ops.url}/metrics`)).text();
    expect(sample(text, "http_requests_total", { method: "GET", route: "/readyz", status_code: "200" })).toBe(
      1,
    );
    expect(sample(text, "http_requests_total", { method: "GET", route: "/readyz", status_code: "503" })).toBe(
      1,
    );
    expect(
      sample(text, "http_request_duration_seconds_count", { route: "/healthz", status_code: "200" }),
    ).toBe(1);
  });
});
