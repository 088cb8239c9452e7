import { describe, expect, it } from "vitest";
import { groupBy } from "@shardshop/orchestrator";
import { shardIndexOf, slotOf, slotTag, SLOT_COUNT } from "./shards.js";

describe("shard routing", () => {
  it("uses Redis Cluster's keyslot", () => {
    // Values from the Redis Cluster specification and CLUSTER KEYSLOT.
    expect(slotOf("123456789")).toBe(0x31c3);
    expect(slotOf("foo")).toBe(12182);
    expect(slotOf("somekey")).toBe(11058);
  });

  it("maps contiguous slot ranges onto shards", () => {
    expect(shardIndexOf("foo", 1)).toBe(0);
    expect(shardIndexOf("foo", 2)).toBe(1); // 12182 >= 8192
    expect(shardIndexOf("somekey", 3)).toBe(Math.floor((11058 * 3) / SLOT_COUNT));
    for (const n of [1, 2, 3, 5, 16]) {
      for (let i = 0; i < 200; i++) {
        const shard = shardIndexOf(String(i), n);
        expect(shard).toBeGreaterThanOrEqual(0);
        expect(shard).toBeLessThan(n);
      }
    }
  });

  it("spreads sequential ids over every shard", () => {
    const counts = [0, 0, 0];
    for (let i = 0; i < 3000; i++) counts[shardIndexOf(String(i), 3)]!++;
    for (const c of counts) expect(c).toBeGreaterThan(700);
  });

  it("groups entries by shard, keeping their order", () => {
    const ids = Array.from({ length: 50 }, (_, i) => String(i));
    const groups = groupBy(ids, (id) => shardIndexOf(id, 3));
    expect([...groups.values()].flat().sort()).toEqual([...ids].sort());
    for (const [shard, group] of groups) {
      for (const id of group) expect(shardIndexOf(id, 3)).toBe(shard);
      expect(group).toEqual(ids.filter((id) => group.includes(id)));
    }
  });

  it("names a tag for every slot that hashes to that slot", () => {
    for (let slot = 0; slot < SLOT_COUNT; slot++) expect(slotOf(slotTag(slot))).toBe(slot);
    expect(Math.max(...Array.from({ length: SLOT_COUNT }, (_, s) => slotTag(s).length))).toBeLessThanOrEqual(4);
  });
});
