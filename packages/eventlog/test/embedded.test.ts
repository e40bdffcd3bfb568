import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Durability } from "../src/embedded/durability";
import { openEmbeddedEventLog } from "../src/embedded/embedded-event-log";
import { fileDurability } from "../src/embedded/file-durability";
import { runEventLogContract } from "./contract";

runEventLogContract("embedded-memory", async () => ({
  open: () => openEmbeddedEventLog(),
  durable: false,
  dispose: async () => {},
}));

runEventLogContract("embedded-file", async () => {
  const dir = await mkdtemp(join(tmpdir(), "excraft-eventlog-"));
  return {
    open: () => openEmbeddedEventLog({ durability: fileDurability({ dir }) }),
    durable: true,
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
});

describe("embedded publish when the durable write fails", () => {
  it("rejects, exposes nothing, reuses the offsets, and keeps only written records across reopen", async () => {
    const dir = await mkdtemp(join(tmpdir(), "excraft-eventlog-"));
    try {
      const file = fileDurability({ dir });
      let failNext = false;
      // Fault injection around the real file durability: the write fails before touching the file.
      const faulty: Durability = {
        ...file,
        kind: file.kind,
        append: (records) => (failNext ? Promise.reject(new Error("disk full")) : file.append(records)),
      };
      const log = await openEmbeddedEventLog({ durability: faulty });
      await log.createTopic("t", 1);
      const enc = new TextEncoder();
      await log.publish("t", [{ key: "k", value: enc.encode("a") }]);
      failNext = true;
      await expect(log.publish("t", [{ key: "k", value: enc.encode("lost") }])).rejects.toThrow(/disk full/);
      expect(await log.endOffset("t", 0)).toBe(1n);
      failNext = false;
      expect(await log.publish("t", [{ key: "k", value: enc.encode("b") }])).toEqual([
        { partition: 0, offset: 1n },
      ]);
      await log.close();
      const reopened = await openEmbeddedEventLog({ durability: fileDurability({ dir }) });
      const reader = await reopened.openReader({ topic: "t", partition: 0 });
      const got = (await reader.read({ maxWaitMs: 0 })).map((r) => new TextDecoder().decode(r.value));
      await reopened.close();
      expect(got).toEqual(["a", "b"]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
