/**
 * Self time of a V8 CPU profile (.cpuprofile) grouped by where the code lives: a workspace
 * (`services/order-gateway`, `packages/eventlog`…), an npm package, a Node core module, or V8's own
 * buckets ((idle), (garbage collector), (program)) and natives (writev, …).
 */
import { readFileSync } from "node:fs";

export interface ProfileShare {
  where: string;
  percent: number;
}

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string } }[];
  samples: number[];
  timeDeltas: number[];
}

function placeOf(functionName: string, url: string): string {
  if (url === "") return functionName.startsWith("(") ? functionName : `native ${functionName}`;
  const pkg = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (pkg) return pkg[1]!;
  const workspace = url.match(/\/((?:services|packages)\/[^/]+)\//);
  if (workspace) return workspace[1]!;
  const core = url.match(/^node:([^/]+(?:\/[^/]+)?)/);
  if (core) return `node:${core[1]}`;
  return url;
}

export function summarizeProfile(file: string, top = 15): ProfileShare[] {
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const places = new Map<number, string>();
  for (const node of profile.nodes)
    places.set(node.id, placeOf(node.callFrame.functionName, node.callFrame.url));
  const time = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    total += dt;
    const where = places.get(id) ?? "?";
    time.set(where, (time.get(where) ?? 0) + dt);
  });
  return [...time]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([where, t]) => ({ where, percent: Number(((100 * t) / Math.max(1, total)).toFixed(1)) }));
}
