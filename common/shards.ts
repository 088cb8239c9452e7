// Deterministic routing of entity ids to Redis shards, identical in every instance.
// We use Redis Cluster's keyslot (CRC16 of the hash tag, mod 16384) and map slot ranges onto the
// shards, as a cluster would: every key of an entity is tagged `{id}`, so all of them share a slot
// and the same data could later live in a real Redis Cluster without renaming anything.
import calculateSlot from "cluster-key-slot";

export const SLOT_COUNT = 16384;

/** The Redis Cluster slot of every key tagged `{id}`. Ids never contain braces (see ids.ts). */
export function slotOf(id: string): number {
  return calculateSlot(id);
}

/** Shard i owns the contiguous slot range [i*16384/N, (i+1)*16384/N). */
export function shardIndexOf(id: string, shardCount: number): number {
  return Math.floor((slotOf(id) * shardCount) / SLOT_COUNT);
}

let slotTags: string[] | undefined;

/**
 * A short string whose keyslot is `slot`, so that a key tagged with it lives in that slot: how a
 * key of which each slot has its own (e.g. an index of the slot's open checkouts) is named.
 */
export function slotTag(slot: number): string {
  if (!slotTags) {
    // Base-36 numbers in order reach every slot within about 90 000 tries (10 ms, once).
    const tags: string[] = new Array(SLOT_COUNT);
    for (let i = 0, found = 0; found < SLOT_COUNT; i++) {
      const tag = i.toString(36);
      const s = calculateSlot(tag);
      if (tags[s] === undefined) [tags[s], found] = [tag, found + 1];
    }
    slotTags = tags;
  }
  return slotTags[slot]!;
}
