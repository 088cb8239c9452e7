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

/** Groups entries by the shard their id routes to, keeping each group's input order. */
export function groupByShard<T>(entries: Iterable<T>, idOf: (e: T) => string, shardCount: number): Map<number, T[]> {
  const groups = new Map<number, T[]>();
  for (const entry of entries) {
    const shard = shardIndexOf(idOf(entry), shardCount);
    const group = groups.get(shard);
    if (group) group.push(entry);
    else groups.set(shard, [entry]);
  }
  return groups;
}
