/**
 * Open-addressing hash map from a positive safe-integer id (order id) to an int (pool slot).
 * Linear probing with backward-shift deletion: no tombstones, no per-operation allocation,
 * and no boxing of ids above 2^31 (a JS Map would allocate a HeapNumber per such key).
 */
export class IdIndex {
  /** Interleaved [key, value] pairs: one cache line holds both. Key 0 = empty. */
  private kv: Float64Array;
  private mask: number;
  size = 0;

  constructor(capacity = 64) {
    let c = 16;
    while (c < capacity * 2) c *= 2;
    this.kv = new Float64Array(c * 2);
    this.mask = c - 1;
  }

  private slotOf(k: number): number {
    const lo = k >>> 0;
    const hi = (k / 4294967296) >>> 0;
    let h = Math.imul(lo ^ Math.imul(hi, 0x27d4eb2d), 0x9e3779b1);
    h ^= h >>> 15;
    return h & this.mask;
  }

  /** The value for k, or -1. */
  get(k: number): number {
    const kv = this.kv;
    let i = this.slotOf(k);
    for (;;) {
      const x = kv[i << 1]!;
      if (x === k) return kv[(i << 1) + 1]!;
      if (x === 0) return -1;
      i = (i + 1) & this.mask;
    }
  }

  set(k: number, v: number): void {
    if ((this.size + 1) * 2 > this.mask + 1) this.grow();
    const kv = this.kv;
    let i = this.slotOf(k);
    for (;;) {
      const x = kv[i << 1]!;
      if (x === k) {
        kv[(i << 1) + 1] = v;
        return;
      }
      if (x === 0) {
        kv[i << 1] = k;
        kv[(i << 1) + 1] = v;
        this.size++;
        return;
      }
      i = (i + 1) & this.mask;
    }
  }

  delete(k: number): boolean {
    const kv = this.kv;
    const mask = this.mask;
    let i = this.slotOf(k);
    for (;;) {
      const x = kv[i << 1]!;
      if (x === 0) return false;
      if (x === k) break;
      i = (i + 1) & mask;
    }
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const x = kv[j << 1]!;
      if (x === 0) break;
      const h = this.slotOf(x);
      // Move x into the hole at i unless its home h lies cyclically in (i, j].
      const stays = i <= j ? h > i && h <= j : h > i || h <= j;
      if (!stays) {
        kv[i << 1] = x;
        kv[(i << 1) + 1] = kv[(j << 1) + 1]!;
        i = j;
      }
    }
    kv[i << 1] = 0;
    this.size--;
    return true;
  }

  private grow(): void {
    const old = this.kv;
    const cap = (this.mask + 1) * 2;
    this.kv = new Float64Array(cap * 2);
    this.mask = cap - 1;
    this.size = 0;
    for (let i = 0; i < old.length; i += 2) if (old[i] !== 0) this.set(old[i]!, old[i + 1]!);
  }
}

/**
 * Open-addressing map from a pair (a: positive safe integer, b: int) to an int — the shard-wide
 * (market+side, price) → level index. Entries are 4 doubles [a, b, value, -]: two per cache line.
 */
export class PairIndex {
  private kv: Float64Array;
  private mask: number;
  size = 0;

  constructor(capacity = 64) {
    let c = 16;
    while (c < capacity * 2) c *= 2;
    this.kv = new Float64Array(c * 4);
    this.mask = c - 1;
  }

  private slotOf(a: number, b: number): number {
    const lo = a >>> 0;
    const hi = (a / 4294967296) >>> 0;
    let h = Math.imul(lo ^ Math.imul(hi, 0x27d4eb2d) ^ Math.imul(b, 0x165667b1), 0x9e3779b1);
    h ^= h >>> 15;
    return h & this.mask;
  }

  get(a: number, b: number): number {
    const kv = this.kv;
    let i = this.slotOf(a, b);
    for (;;) {
      const x = kv[i << 2]!;
      if (x === a && kv[(i << 2) + 1] === b) return kv[(i << 2) + 2]!;
      if (x === 0) return -1;
      i = (i + 1) & this.mask;
    }
  }

  set(a: number, b: number, v: number): void {
    if ((this.size + 1) * 2 > this.mask + 1) this.grow();
    const kv = this.kv;
    let i = this.slotOf(a, b);
    for (;;) {
      const x = kv[i << 2]!;
      if (x === a && kv[(i << 2) + 1] === b) {
        kv[(i << 2) + 2] = v;
        return;
      }
      if (x === 0) {
        kv[i << 2] = a;
        kv[(i << 2) + 1] = b;
        kv[(i << 2) + 2] = v;
        this.size++;
        return;
      }
      i = (i + 1) & this.mask;
    }
  }

  delete(a: number, b: number): boolean {
    const kv = this.kv;
    const mask = this.mask;
    let i = this.slotOf(a, b);
    for (;;) {
      const x = kv[i << 2]!;
      if (x === 0) return false;
      if (x === a && kv[(i << 2) + 1] === b) break;
      i = (i + 1) & mask;
    }
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const x = kv[j << 2]!;
      if (x === 0) break;
      const h = this.slotOf(x, kv[(j << 2) + 1]!);
      const stays = i <= j ? h > i && h <= j : h > i || h <= j;
      if (!stays) {
        kv[i << 2] = x;
        kv[(i << 2) + 1] = kv[(j << 2) + 1]!;
        kv[(i << 2) + 2] = kv[(j << 2) + 2]!;
        i = j;
      }
    }
    kv[i << 2] = 0;
    this.size--;
    return true;
  }

  private grow(): void {
    const old = this.kv;
    const cap = (this.mask + 1) * 2;
    this.kv = new Float64Array(cap * 4);
    this.mask = cap - 1;
    this.size = 0;
    for (let i = 0; i < old.length; i += 4) if (old[i] !== 0) this.set(old[i]!, old[i + 1]!, old[i + 2]!);
  }
}
