import { afterEach, describe, expect, it } from "vitest";
import { env, platformConfigSchema } from "../src/config";
import { type ServiceRuntime, startServiceRuntime } from "../src/service-runtime";

const schema = { ...platformConfigSchema, DATABASE_URL: env.url({ description: "PostgreSQL" }) };
const baseEnv = { LOG_LEVEL: "silent", METRICS_HOST: "127.0.0.1", METRICS_PORT: "0" };

describe("startServiceRuntime", () => {
  let runtime: ServiceRuntime<typeof schema> | undefined;
  afterEach(async () => {
    runtime?.shutdown.unlisten();
    await runtime?.ops.close();
    runtime = undefined;
  });

  it("refuses a bad environment with one error naming every bad variable, before binding anything", async () => {
    await expect(
      startServiceRuntime("svc", schema, { ...baseEnv, METRICS_PORT: "x", DATABASE_URL: "not a url" }),
    ).rejects.toThrow(/METRICS_PORT[\s\S]*DATABASE_URL|DATABASE_URL[\s\S]*METRICS_PORT/);
  });

  it("serves metrics labelled with the service, and readiness that reflects registered checks", async () => {
    runtime = await startServiceRuntime("svc", schema, {
      ...baseEnv,
      DATABASE_URL: "postgres://u@127.0.0.1:1/db",
    });
    const metrics = await (await fetch(`${runtime.ops.url}/metrics`)).text();
    expect(metrics).toMatch(/process_cpu_user_seconds_total\{service="svc"\}/);
    expect((await fetch(`${runtime.ops.url}/readyz`)).status).toBe(200);
    runtime.readiness.register("dependency", async () => {
      throw new Error("down");
    });
    expect((await fetch(`${runtime.ops.url}/readyz`)).status).toBe(503);
    expect(runtime.config.DATABASE_URL).toBe("postgres://u@127.0.0.1:1/db");
  });
});
