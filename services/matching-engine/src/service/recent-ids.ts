/**
 * A bounded set of the most recent ids (a ring plus a set): enough to drop a command that a
 * producer retry wrote twice, without letting memory grow with the log.
 */
export class RecentIds {
  private readonly ring: string[];
  private readonly set = new Set<string>();
  private next = 0;
  private size = 0;

  constructor(private readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error("capacity must be a positive integer");
    this.ring = new Array(capacity);
  }

  has(id: string): boolean {
    return this.set.has(id);
  }

  add(id: string): void {
    if (this.set.has(id)) return;
    if (this.size === this.capacity) this.set.delete(this.ring[this.next]!);
    else this.size++;
    this.ring[this.next] = id;
    this.set.add(id);
    this.next = (this.next + 1) % this.capacity;
  }

  /** Oldest first, so adding them in order rebuilds the same window. */
  list(): string[] {
    const out: string[] = [];
    const start = this.size === this.capacity ? this.next : 0;
    for (let i = 0; i < this.size; i++) out.push(this.ring[(start + i) % this.capacity]!);
    return out;
  }
}
