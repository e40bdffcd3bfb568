/**
 * Open-addressing hash map from a positive safe-integer id (order id) to an int (pool slot) plus a
 * hint (the order's level, so that the level's cache miss can overlap the slot's).
 * Linear probing with backward-shift deletion: no tombstones, no per-operation allocation,
 * and no boxing of ids above 2^31 (a JS Map would allocate a HeapNumber per such key).
 */
export class IdIndex {
  /** Entries of 4 doubles [key, value, hint, −], two per cache line. Key 0 = empty. */
  kv: Float64Array;
  private mask: number;
  size = 0;

  constructor(capacity = 64) {
    let c = 16;
    while (c < capacity * 2) c *= 2;
    this.kv = new Float64Array(c * 4);
    this.mask = c - 1;
  }

  private slotOf(k: number): number {
    const lo = k >>> 0;
    const hi = (k / 4294967296) >>> 0;
    let h = Math.imul(lo ^ Math.imul(hi, 0x27d4eb2d), 0x9e3779b1);
    h ^= h >>> 15;
    return h & this.mask;
  }

  /** Offset of k's entry in kv (value at +1, hint at +2), or −1. */
  probe(k: number): number {
    const kv = this.kv;
    let i = this.slotOf(k);
    for (;;) {
      const x = kv[i << 2]!;
      if (x === k) return i << 2;
      if (x === 0) return -1;
      i = (i + 1) & this.mask;
    }
  }

  /** The value for k, or -1. */
  get(k: number): number {
    const e = this.probe(k);
    return e < 0 ? -1 : this.kv[e + 1]!;
  }

  set(k: number, v: number, hint = -1): void {
    if ((this.size + 1) * 2 > this.mask + 1) this.grow();
    const kv = this.kv;
    let i = this.slotOf(k);
    for (;;) {
      const x = kv[i << 2]!;
      if (x === k || x === 0) {
        if (x === 0) this.size++;
        kv[i << 2] = k;
        kv[(i << 2) + 1] = v;
        kv[(i << 2) + 2] = hint;
        return;
      }
      i = (i + 1) & this.mask;
    }
  }

  /** Updates k's hint (no-op when k is absent). */
  setHint(k: number, hint: number): void {
    const e = this.probe(k);
    if (e >= 0) this.kv[e + 2] = hint;
  }

  delete(k: number): boolean {
    const kv = this.kv;
    const mask = this.mask;
    let i = this.slotOf(k);
    for (;;) {
      const x = kv[i << 2]!;
      if (x === 0) return false;
      if (x === k) break;
      i = (i + 1) & mask;
    }
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const x = kv[j << 2]!;
      if (x === 0) break;
      const h = this.slotOf(x);
      // Move x into the hole at i unless its home h lies cyclically in (i, j].
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

/**
 * Open-addressing map from (price: positive safe integer, market: int) to the market's bid level
 * and ask level at that price (NIL = −1 when a side has none): the shard-wide price → level index.
 * Entries are 4 doubles [price, market, bid, ask], two per cache line. Both sides share an entry
 * so the line can be loaded before the side of the order is known (see FastBook#prefetchRest).
 */
export class LevelIndex {
  kv: Float64Array;
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

  /** Offset of the entry in kv (its bid level at +2, ask level at +3), or −1. */
  probe(price: number, market: number): number {
    const kv = this.kv;
    let i = this.slotOf(price, market);
    for (;;) {
      const x = kv[i << 2]!;
      if (x === price && kv[(i << 2) + 1] === market) return i << 2;
      if (x === 0) return -1;
      i = (i + 1) & this.mask;
    }
  }

  /** The level of (price, market, side 1 = bid / 2 = ask), or −1. */
  get(price: number, market: number, side: number): number {
    const e = this.probe(price, market);
    return e < 0 ? -1 : this.kv[e + 1 + side]!;
  }

  set(price: number, market: number, side: number, v: number): void {
    if ((this.size + 1) * 2 > this.mask + 1) this.grow();
    const kv = this.kv;
    let i = this.slotOf(price, market);
    for (;;) {
      const x = kv[i << 2]!;
      if (x === price && kv[(i << 2) + 1] === market) {
        kv[(i << 2) + 1 + side] = v;
        return;
      }
      if (x === 0) {
        kv[i << 2] = price;
        kv[(i << 2) + 1] = market;
        kv[(i << 2) + 2] = -1;
        kv[(i << 2) + 3] = -1;
        kv[(i << 2) + 1 + side] = v;
        this.size++;
        return;
      }
      i = (i + 1) & this.mask;
    }
  }

  /** Drops one side's level; the entry goes when neither side has one. */
  delete(price: number, market: number, side: number): void {
    const kv = this.kv;
    const mask = this.mask;
    let i = this.slotOf(price, market);
    for (;;) {
      const x = kv[i << 2]!;
      if (x === 0) return;
      if (x === price && kv[(i << 2) + 1] === market) break;
      i = (i + 1) & mask;
    }
    kv[(i << 2) + 1 + side] = -1;
    if (kv[(i << 2) + 2] !== -1 || kv[(i << 2) + 3] !== -1) return;
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const x = kv[j << 2]!;
      if (x === 0) break;
      const h = this.slotOf(x, kv[(j << 2) + 1]!);
      // Move x into the hole at i unless its home h lies cyclically in (i, j].
      const stays = i <= j ? h > i && h <= j : h > i || h <= j;
      if (!stays) {
        kv[i << 2] = x;
        kv[(i << 2) + 1] = kv[(j << 2) + 1]!;
        kv[(i << 2) + 2] = kv[(j << 2) + 2]!;
        kv[(i << 2) + 3] = kv[(j << 2) + 3]!;
        i = j;
      }
    }
    kv[i << 2] = 0;
    this.size--;
  }

  private grow(): void {
    const old = this.kv;
    const cap = (this.mask + 1) * 2;
    this.kv = new Float64Array(cap * 4);
    this.mask = cap - 1;
    this.size = 0;
    for (let i = 0; i < old.length; i += 4) {
      if (old[i] === 0) continue;
      if (old[i + 2] !== -1) this.set(old[i]!, old[i + 1]!, 1, old[i + 2]!);
      if (old[i + 3] !== -1) this.set(old[i]!, old[i + 1]!, 2, old[i + 3]!);
    }
  }
}
