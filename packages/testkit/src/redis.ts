import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createConnection } from "node:net";
import { announce, isDockerAvailable } from "./docker";
import { freePort, waitFor } from "./ports";

export interface TestRedis {
  url: string;
  stop(): Promise<void>;
}

/**
 * Starts a real Redis on a free loopback port: Testcontainers where a Docker engine runs,
 * otherwise Debian's `redis-server` (installed by .ci/run). `TESTKIT_REDIS_URL` uses an existing one.
 */
export async function startRedis(): Promise<TestRedis> {
  const external = process.env.TESTKIT_REDIS_URL;
  if (external) {
    announce("redis", "external server from TESTKIT_REDIS_URL");
    return { url: external, stop: async () => {} };
  }
  if (await isDockerAvailable()) {
    const { RedisContainer } = await import("@testcontainers/redis");
    const container = await new RedisContainer("redis:7-alpine").start();
    announce("redis", `Testcontainers redis:7-alpine on ${container.getHost()}:${container.getPort()}`);
    return { url: container.getConnectionUrl(), stop: async () => void (await container.stop()) };
  }
  const port = await freePort();
  const child = spawn(
    "redis-server",
    [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--protected-mode",
      "yes",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  const failed = new Promise<never>((_, reject) => {
    child.once("error", (error) =>
      reject(new Error(`could not start redis-server (apt-get install redis-server): ${error.message}`)),
    );
  });
  await Promise.race([failed, waitFor("redis to answer PING", () => ping(port))]);
  announce("redis", `redis-server on 127.0.0.1:${port}`);
  return { url: `redis://127.0.0.1:${port}`, stop: () => stopProcess(child) };
}

function ping(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    socket.setTimeout(1_000);
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (data) => {
      socket.destroy();
      if (data.toString().startsWith("+PONG")) resolve();
      else reject(new Error(`unexpected reply ${data.toString()}`));
    });
    socket.on("timeout", () => socket.destroy(new Error("timeout")));
    socket.on("error", reject);
  });
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill("SIGTERM");
  await once(child, "exit");
}
