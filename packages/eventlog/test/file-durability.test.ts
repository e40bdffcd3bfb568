import { appendFile, mkdtemp, readFile, rm, stat, truncate } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openEmbeddedEventLog } from "../src/embedded/embedded-event-log";
import { fileDurability } from "../src/embedded/file-durability";

const enc = new TextEncoder();
const dec = new TextDecoder();

describe("embedded file durability", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "excraft-eventlog-file-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const open = (truncations: number[] = []) =>
    openEmbeddedEventLog({
      durability: fileDurability({ dir, onTruncate: (i) => truncations.push(i.droppedBytes) }),
    });

  async function values(topic: string, partition: number): Promise<string[]> {
    const log = await open();
    try {
      const reader = await log.openReader({ topic, partition });
      const out = (await reader.read({ maxWaitMs: 0 })).map((r) => dec.decode(r.value));
      await reader.close();
      return out;
    } finally {
      await log.close();
    }
  }

  it("drops a torn tail on reopen, keeps everything before it, and appends after it", async () => {
    const log = await open();
    await log.createTopic("t", 1);
    await log.publish("t", [{ key: "a", value: enc.encode("one"), partition: 0 }]);
    await log.publish("t", [{ key: "a", value: enc.encode("two"), partition: 0 }]);
    await log.close();
    const file = join(dir, "eventlog.log");
    const full = (await stat(file)).size;

    // A crash in the middle of writing the last frame: cut 5 bytes off its end.
    await truncate(file, full - 5);
    const truncations: number[] = [];
    const reopened = await open(truncations);
    expect(truncations).toHaveLength(1);
    expect(await reopened.endOffset("t", 0)).toBe(1n);
    const [pos] = await reopened.publish("t", [{ key: "a", value: enc.encode("three"), partition: 0 }]);
    expect(pos).toEqual({ partition: 0, offset: 1n });
    await reopened.close();
    expect(await values("t", 0)).toEqual(["one", "three"]);
  });

  it("treats a frame with a bad checksum as the end of the log", async () => {
    const log = await open();
    await log.createTopic("t", 1);
    await log.publish("t", [{ key: "a", value: enc.encode("kept"), partition: 0 }]);
    await log.close();
    const file = join(dir, "eventlog.log");
    const before = await readFile(file);
    // Garbage that looks like a frame header with a wrong CRC.
    await appendFile(file, Buffer.from([0, 0, 0, 4, 1, 2, 3, 4, 9, 9, 9, 9]));
    const truncations: number[] = [];
    const reopened = await open(truncations);
    await reopened.close();
    expect(truncations).toEqual([12]);
    expect((await readFile(file)).equals(before)).toBe(true);
    expect(await values("t", 0)).toEqual(["kept"]);
  });

  it("refuses a second open of the same directory while the first is open", async () => {
    const log = await open();
    await expect(open()).rejects.toThrow(/already open/);
    await log.close();
    const again = await open();
    await again.close();
  });
});
