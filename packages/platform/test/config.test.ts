import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ConfigError, configMarkdownTable, env, loadConfig, platformConfigSchema } from "../src/index";

const schema = {
  ...platformConfigSchema,
  SERVICE_NAME: env.string({ description: "Name of the service" }),
  DATABASE_URL: env.url({
    description: "PostgreSQL connection URL",
    protocols: ["postgres", "postgresql"],
    secret: true,
  }),
  REDIS_URL: env.optional(env.url({ description: "Redis URL", protocols: ["redis", "rediss"] })),
  FEATURE_X: env.bool({ description: "Enables feature X", default: false }),
  MODE: env.enum(["embedded", "kafka"], { description: "Event log adapter" }),
  BATCH: env.int({ description: "Batch size", default: 100, min: 1, max: 10_000 }),
};

const valid = {
  SERVICE_NAME: "wallet",
  DATABASE_URL: "postgres://u:p@127.0.0.1:5432/wallet",
  MODE: "kafka",
  GRPC_PORT: "7001",
  FEATURE_X: "yes",
  LOG_LEVEL: "debug",
};

function problemOf(overrides: Record<string, string | undefined>): string {
  try {
    loadConfig(schema, { ...valid, ...overrides });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error("expected a ConfigError");
}

describe("loadConfig", () => {
  it("parses a valid environment into a frozen typed object with defaults", () => {
    const config = loadConfig(schema, valid);
    expect(config).toEqual({
      LOG_LEVEL: "debug",
      GRPC_HOST: "0.0.0.0",
      GRPC_PORT: 7001,
      GRPC_MAX_HANDLING_MS: 30_000,
      METRICS_HOST: "0.0.0.0",
      METRICS_PORT: 9464,
      SHUTDOWN_TIMEOUT_MS: 10_000,
      SERVICE_NAME: "wallet",
      DATABASE_URL: "postgres://u:p@127.0.0.1:5432/wallet",
      REDIS_URL: undefined,
      FEATURE_X: true,
      MODE: "kafka",
      BATCH: 100,
    });
    expect(Object.isFrozen(config)).toBe(true);
    const port: number = config.GRPC_PORT;
    const mode: "embedded" | "kafka" = config.MODE;
    const redis: string | undefined = config.REDIS_URL;
    expect([port, mode, redis]).toEqual([7001, "kafka", undefined]);
  });

  it.each([
    [{ GRPC_PORT: "abc" }, 'Invalid configuration: GRPC_PORT must be an integer 0-65535 (got "abc")'],
    [{ GRPC_PORT: "70000" }, 'GRPC_PORT must be an integer 0-65535 (got "70000")'],
    [{ GRPC_PORT: "12.5" }, 'GRPC_PORT must be an integer 0-65535 (got "12.5")'],
    [{ BATCH: "0" }, 'BATCH must be an integer 1-10000 (got "0")'],
    [{ FEATURE_X: "maybe" }, 'FEATURE_X must be a boolean (true/false, 1/0, yes/no, on/off) (got "maybe")'],
    [{ MODE: "rabbit" }, 'MODE must be one of embedded, kafka (got "rabbit")'],
    [{ LOG_LEVEL: "verbose" }, "LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent"],
    [
      { REDIS_URL: "localhost:6379" },
      'REDIS_URL must be a URL with scheme redis or rediss (got "localhost:6379")',
    ],
    [{ REDIS_URL: "http://localhost:6379" }, "REDIS_URL must be a URL with scheme redis or rediss"],
    [
      { DATABASE_URL: "not a url" },
      "DATABASE_URL must be a URL with scheme postgres or postgresql (got ***)",
    ],
    [{ SERVICE_NAME: undefined }, "SERVICE_NAME is required: Name of the service (a non-empty string)"],
    [{ MODE: "" }, "MODE is required: Event log adapter (one of embedded, kafka)"],
  ])("rejects %j with a message naming the variable", (overrides, expected) => {
    expect(problemOf(overrides)).toContain(expected);
  });

  it("names every bad variable in one error, and never echoes a secret", () => {
    try {
      loadConfig(schema, {
        ...valid,
        GRPC_PORT: "-1",
        DATABASE_URL: "mysql://u:hunter2@h/db",
        SERVICE_NAME: "",
      });
      expect.unreachable();
    } catch (error) {
      const e = error as ConfigError;
      expect(e.problems.map((p) => p.variable)).toEqual(["GRPC_PORT", "SERVICE_NAME", "DATABASE_URL"]);
      expect(e.message).toMatch(
        /^Invalid configuration: GRPC_PORT must be .*; SERVICE_NAME is required.*; DATABASE_URL must be/,
      );
      expect(e.message).not.toContain("hunter2");
    }
  });

  it("renders the schema as a Markdown table", () => {
    const table = configMarkdownTable(schema)
      .split("\n")
      .map((row) => row.replace(/ {2,}/g, " ").replace(/-{4,}/g, "---"));
    expect(table[0]).toBe("| Variable | Default | Meaning |");
    expect(table[1]).toBe("| --- | --- | --- |");
    expect(table).toContain(
      "| `GRPC_PORT` | `50051` | Port of the gRPC server (0 = any free port) (an integer 0-65535) |",
    );
    expect(table).toContain("| `SERVICE_NAME` | **required** | Name of the service (a non-empty string) |");
    expect(table).toContain("| `REDIS_URL` | *(unset)* | Redis URL (a URL with scheme redis or rediss) |");
    expect(table).toHaveLength(2 + Object.keys(schema).length);
  });
});

describe("README", () => {
  it("carries the configuration table generated from platformConfigSchema", () => {
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
    expect(readme).toContain(configMarkdownTable(platformConfigSchema));
  });
});
