import { Partitioners } from "kafkajs";
import { describe, expect, it } from "vitest";
import { murmur2, partitionForKey } from "../src/partitioner";

const enc = new TextEncoder();

describe("murmur2 partitioner", () => {
  it("matches the Java client's murmur2 (Kafka UtilsTest vectors)", () => {
    const cases: [Uint8Array, number][] = [
      [enc.encode("21"), -973932308],
      [enc.encode("foobar"), -790332482],
      [enc.encode("a-little-bit-long-string"), -985981536],
      [enc.encode("a-little-bit-longer-string"), -1486304829],
      [enc.encode("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"), -58897971],
      [Uint8Array.of(97, 98, 99), 479470107],
    ];
    for (const [bytes, expected] of cases) expect(murmur2(bytes)).toBe(expected);
  });

  it("puts every key on the same partition as kafkajs's DefaultPartitioner", () => {
    const partitioner = Partitioners.DefaultPartitioner();
    for (const partitions of [1, 3, 4, 16, 100]) {
      const partitionMetadata = Array.from({ length: partitions }, (_, i) => ({
        partitionId: i,
        leader: 1,
        partitionErrorCode: 0,
        replicas: [1],
        isr: [1],
      }));
      for (let i = 0; i < 500; i++) {
        const key = i % 7 === 0 ? `ключ-${i}-🔑` : `BTC-USDT-${i * 7919}`;
        const expected = partitioner({ topic: "t", partitionMetadata, message: { key, value: null } });
        expect(partitionForKey(key, partitions)).toBe(expected);
      }
    }
  });
});
