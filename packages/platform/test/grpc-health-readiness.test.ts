import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { createGrpcServer, createLogger, type GrpcServer, Readiness } from "../src/index";
import { kitTestDefinition, kitTestImplementation } from "./fixtures/kit-test-service";
import { HealthClient, unary } from "./helpers";

describe("gRPC health follows readiness", () => {
  let server: GrpcServer | undefined;
  let health: InstanceType<typeof HealthClient> | undefined;
  afterEach(async () => {
    health?.close();
    await server?.drain(1_000);
  });

  it("reports NOT_SERVING while a readiness check fails and SERVING once it passes", async () => {
    const readiness = new Readiness();
    let databaseUp = false;
    readiness.register("database", async () => {
      if (!databaseUp) throw new Error("database down");
    });
    server = await createGrpcServer({
      name: "health-readiness",
      host: "127.0.0.1",
      port: 0,
      logger: createLogger({ name: "test", level: "silent" }),
      services: [
        {
          definition: kitTestDefinition,
          implementation: kitTestImplementation({
            slowStarted: 0,
            slowAborted: 0,
            slowFinished: 0,
            requestIdsSeen: [],
          }),
        },
      ],
      readiness,
      readinessIntervalMs: 50,
    });
    health = new HealthClient(server.address, grpc.credentials.createInsecure());
    const status = async () =>
      (await unary<{ status: string }>(health!, "Check", { service: "" })).reply.status;
    expect(await status()).toBe("NOT_SERVING");
    databaseUp = true;
    const deadline = Date.now() + 2_000;
    while ((await status()) !== "SERVING" && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 25));
    expect(await status()).toBe("SERVING");
    // Shutting down wins over readiness: a passing check never flips it back to SERVING.
    server.markNotServing();
    await new Promise((r) => setTimeout(r, 200));
    expect(await status()).toBe("NOT_SERVING");
  });
});
