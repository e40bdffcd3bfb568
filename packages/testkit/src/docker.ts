import { request } from "node:http";

let cached: Promise<boolean> | undefined;

/**
 * True when a Docker engine answers on its socket, so the harness can use Testcontainers.
 * `TESTKIT_DOCKER=0` forces the local fallbacks even where Docker exists.
 */
export function isDockerAvailable(): Promise<boolean> {
  if (process.env.TESTKIT_DOCKER === "0") return Promise.resolve(false);
  cached ??= new Promise((resolve) => {
    const socketPath = process.env.DOCKER_HOST?.startsWith("unix://")
      ? process.env.DOCKER_HOST.slice("unix://".length)
      : "/var/run/docker.sock";
    const req = request({ socketPath, path: "/_ping", timeout: 1_000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on("error", () => resolve(false));
    req.on("timeout", () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
  return cached;
}

/** One line on stderr saying which implementation a test harness chose, so CI logs tell. */
export function announce(component: string, implementation: string): void {
  if (process.env.TESTKIT_QUIET !== "1") process.stderr.write(`[testkit] ${component}: ${implementation}\n`);
}
