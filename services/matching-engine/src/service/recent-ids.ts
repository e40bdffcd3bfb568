/**
 * A bounded set of the most recent ids (a ring plus a hash table): enough to drop a command that a
 * producer retry wrote twice, without letting memory grow with the log.
 *
 * The table is open addressing with linear probing and backward-shift deletion, sized to at most
 * half full: every command adds one id and evicts the oldest, which a JavaScript Set answers with
 * tombstones and periodic full rehashes of the whole window.
 */
export class RecentIds {
  private readonly ring: string[];
  private next = 0;
  private size = 0;
  /** Slot → id (undefined = empty) and the id's hash. */
  private readonly keys: (string | undefined)[];
  private readonly hashes: Int32Array;
  private readonly mask: number;

  constructor(private readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error("capacity must be a positive integer");
    this.ring = new Array(capacity);
    let slots = 16;
    while (slots < capacity * 2) slots *= 2;
    this.keys = new Array(slots).fill(undefined);
    this.hashes = new Int32Array(slots);
    this.mask = slots - 1;
  }

  has(id: string): boolean {
    return this.find(id, hashOf(id)) >= 0;
  }

  add(id: string): void {
    this.addNew(id);
  }

  /** Adds `id` and returns true, or returns false when it is already in the window. */
  addNew(id: string): boolean {
    const hash = hashOf(id);
    const { keys, hashes, mask } = this;
    let slot = hash & mask;
    for (;;) {
      const key = keys[slot];
      if (key === undefined) break;
      if (hashes[slot] === hash && key === id) return false;
      slot = (slot + 1) & mask;
    }
    if (this.size === this.capacity) {
      // Evict the oldest first: it frees a slot, and `slot` may move by the backward shift.
      const oldest = this.ring[this.next]!;
      this.remove(this.find(oldest, hashOf(oldest)));
      slot = hash & mask;
      while (keys[slot] !== undefined) slot = (slot + 1) & mask;
    } else {
      this.size++;
    }
    keys[slot] = id;
    hashes[slot] = hash;
    this.ring[this.next] = id;
    this.next = (this.next + 1) % this.capacity;
    return true;
  }

  /** Oldest first, so adding them in order rebuilds the same window. */
  list(): string[] {
    const out: string[] = [];
    const start = this.size === this.capacity ? this.next : 0;
    for (let i = 0; i < this.size; i++) out.push(this.ring[(start + i) % this.capacity]!);
    return out;
  }

  private find(id: string, hash: number): number {
    const { keys, hashes, mask } = this;
    let slot = hash & mask;
    for (;;) {
      const key = keys[slot];
      if (key === undefined) return -1;
      if (hashes[slot] === hash && key === id) return slot;
      slot = (slot + 1) & mask;
    }
  }

  /** Empties `slot` and shifts back the entries of its probe run, so no lookup needs a tombstone. */
  private remove(slot: number): void {
    const { keys, hashes, mask } = this;
    let hole = slot;
    let probe = slot;
    for (;;) {
      probe = (probe + 1) & mask;
      const key = keys[probe];
      if (key === undefined) break;
      const home = hashes[probe]! & mask;
      // The entry at `probe` may move into the hole unless its home lies cyclically in (hole, probe].
      const stays = hole <= probe ? home > hole && home <= probe : home > hole || home <= probe;
      if (stays) continue;
      keys[hole] = key;
      hashes[hole] = hashes[probe]!;
      hole = probe;
    }
    keys[hole] = undefined;
  }
}

/** FNV-1a over the UTF-16 code units, with a final avalanche so the low bits spread well. */
function hashOf(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h;
}
