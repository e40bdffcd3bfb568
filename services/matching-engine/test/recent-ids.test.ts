import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RecentIds } from "../src/service/recent-ids.ts";

/** The obvious implementation the hash table must agree with. */
class ReferenceWindow {
  private readonly ids: string[] = [];
  constructor(private readonly capacity: number) {}
  addNew(id: string): boolean {
    if (this.ids.includes(id)) return false;
    this.ids.push(id);
    if (this.ids.length > this.capacity) this.ids.shift();
    return true;
  }
  list(): string[] {
    return [...this.ids];
  }
}

describe("RecentIds", () => {
  it("answers like a plain sliding window, through evictions and probe-run shifts", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        // Few distinct ids, so repeats, evictions and colliding probe runs are all frequent.
        fc.array(fc.oneof(fc.integer({ min: 0, max: 60 }).map(String), fc.string({ maxLength: 3 })), {
          maxLength: 400,
        }),
        (capacity, ids) => {
          const window = new RecentIds(capacity);
          const reference = new ReferenceWindow(capacity);
          for (const id of ids) {
            expect(window.addNew(id)).toBe(reference.addNew(id));
          }
          expect(window.list()).toEqual(reference.list());
          for (const id of ids) expect(window.has(id)).toBe(reference.list().includes(id));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("keeps exactly the last `capacity` ids of a long stream, and rebuilds from its list", () => {
    const window = new RecentIds(1_000);
    for (let i = 0; i < 25_000; i++) expect(window.addNew(`c-${i}`)).toBe(true);
    expect(window.has("c-24999")).toBe(true);
    expect(window.has("c-24000")).toBe(true);
    expect(window.has("c-23999")).toBe(false);
    expect(window.has("c-0")).toBe(false);
    expect(window.addNew("c-24500")).toBe(false);
    const copy = new RecentIds(1_000);
    for (const id of window.list()) copy.add(id);
    expect(copy.list()).toEqual(window.list());
    expect(copy.list()[0]).toBe("c-24000");
  });
});
