import { describe, expect, it } from "vitest";
import { createLogger, REDACTED, requestLogger, runWithRequestContext } from "../src/index";
import { memoryDestination } from "./helpers";

const SECRETS = [
  "sk-live-api-key-0001",
  "api-secret-0002",
  "hunter2-password-0003",
  "0xsignature0004",
  "Bearer jwt-token-0005",
  "0xprivatekey0006",
  "binance-key-0007",
  "mnemonic words 0008",
  "secret-0009",
];

describe("logger", () => {
  it("never writes secrets, at any nesting level", () => {
    const log = memoryDestination();
    const logger = createLogger({ name: "redaction", level: "trace", destination: log.stream });
    logger.info({ apiKey: SECRETS[0], apiSecret: SECRETS[1], password: SECRETS[2] }, "top level");
    logger.info({ order: { signature: SECRETS[3], symbol: "BTCUSDT" } }, "one level");
    logger.info(
      { req: { headers: { authorization: SECRETS[4], "x-mbx-apikey": SECRETS[6], host: "h" } } },
      "headers",
    );
    logger.info({ a: { b: { wallet: { privateKey: SECRETS[5], mnemonic: SECRETS[7] } } } }, "three levels");
    logger.child({ user: { secret: SECRETS[8] } }).warn("child bindings");
    const output = log.lines.join("\n");
    for (const secret of SECRETS) expect(output).not.toContain(secret);
    const records = log.records();
    expect(records).toHaveLength(5);
    expect(records[0]).toMatchObject({
      apiKey: REDACTED,
      apiSecret: REDACTED,
      password: REDACTED,
      service: "redaction",
    });
    expect(records[1]).toMatchObject({ order: { signature: REDACTED, symbol: "BTCUSDT" } });
    expect(records[2]).toMatchObject({
      req: { headers: { authorization: REDACTED, "x-mbx-apikey": REDACTED, host: "h" } },
    });
    expect(records[3]).toMatchObject({ a: { b: { wallet: { privateKey: REDACTED, mnemonic: REDACTED } } } });
    expect(records[4]).toMatchObject({ user: { secret: REDACTED }, level: "warn" });
  });

  it("respects the level", () => {
    const log = memoryDestination();
    const logger = createLogger({ name: "levels", level: "warn", destination: log.stream });
    logger.info("hidden");
    logger.error("shown");
    expect(log.records().map((r) => r.msg)).toEqual(["shown"]);
  });

  it("adds the request id of the current context, once, through awaits and in a request child logger", async () => {
    const log = memoryDestination();
    const logger = createLogger({ name: "ctx", destination: log.stream });
    logger.info("outside");
    await runWithRequestContext({ requestId: "req-42" }, async () => {
      await new Promise((r) => setTimeout(r, 1));
      logger.info("inside");
      requestLogger(logger).info("child");
    });
    const [outside, inside, child] = log.records();
    expect(outside).not.toHaveProperty("requestId");
    expect(inside).toMatchObject({ requestId: "req-42", msg: "inside" });
    expect(child).toMatchObject({ requestId: "req-42", msg: "child" });
    expect(log.lines[2]!.match(/"requestId"/g)).toHaveLength(1);
  });
});
