// Grouping entries by a key, as the engine does to send one call per protocol or per partition.

/** Groups entries by a key of each, keeping each group's input order. */
export function groupBy<K, T>(entries: Iterable<T>, keyOf: (e: T) => K): Map<K, T[]> {
  const groups = new Map<K, T[]>();
  for (const entry of entries) {
    const key = keyOf(entry);
    const group = groups.get(key);
    if (group) group.push(entry);
    else groups.set(key, [entry]);
  }
  return groups;
}
