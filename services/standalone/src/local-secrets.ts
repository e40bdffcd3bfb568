/**
 * Secrets of one-process mode: taken from the environment when set, otherwise generated once and
 * kept in the data directory (mode 0600), so API secrets encrypted at rest stay readable across
 * restarts. Production deployments pass them from a secret store instead.
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

export async function localSecret(
  dataDir: string,
  name: string,
  fromEnv: string | undefined,
): Promise<string> {
  if (fromEnv) return fromEnv;
  const dir = join(dataDir, "secrets");
  const file = join(dir, name);
  if (existsSync(file)) return (await readFile(file, "utf8")).trim();
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const value = randomBytes(32).toString("hex");
  await writeFile(file, `${value}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
  return value;
}
