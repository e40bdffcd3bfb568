import Fastify from "fastify";
import { afterAll, describe, expect, it } from "vitest";
import { createMetrics, httpMetricsPlugin } from "../src/index";
import { sample } from "./helpers";

describe("httpMetricsPlugin (fastify, real server on loopback)", () => {
  const metrics = createMetrics({ defaultMetrics: false });
  const app = Fastify({ logger: false });
  afterAll(() => app.close());

  it("counts requests by route template, method and status, with durations", async () => {
    await app.register(httpMetricsPlugin, { metrics: metrics.http });
    await app.register(async (scoped) => {
      scoped.get("/api/v3/order/:id", async (request, reply) => {
        const { id } = request.params as { id: string };
        if (id === "0")
          return reply.code(400).send({ code: -1100, msg: "Illegal characters found in parameter 'id'" });
        return { id };
      });
    });
    app.post("/slow", async () => {
      await new Promise((r) => setTimeout(r, 60));
      return { ok: true };
    });
    const base = await app.listen({ host: "127.0.0.1", port: 0 });
    for (const id of ["1", "2", "3", "0"]) await fetch(`${base}/api/v3/order/${id}`);
    await fetch(`${base}/slow`, { method: "POST" });
    await fetch(`${base}/nowhere/42`);

    const text = await metrics.registry.metrics();
    const route = "/api/v3/order/:id";
    expect(sample(text, "http_requests_total", { method: "GET", route, status_code: "200" })).toBe(3);
    expect(sample(text, "http_requests_total", { method: "GET", route, status_code: "400" })).toBe(1);
    expect(
      sample(text, "http_requests_total", { method: "GET", route: "unmatched", status_code: "404" }),
    ).toBe(1);
    expect(text).not.toContain("/api/v3/order/1");
    expect(sample(text, "http_request_duration_seconds_count", { method: "POST", route: "/slow" })).toBe(1);
    expect(
      sample(text, "http_request_duration_seconds_sum", { method: "POST", route: "/slow" }),
    ).toBeGreaterThanOrEqual(0.05);
    expect(
      sample(text, "http_request_duration_seconds_bucket", { method: "POST", route: "/slow", le: "0.05" }),
    ).toBe(0);
  });
});
