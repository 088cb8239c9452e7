// The order service's Redis keys. An order is the hash `order:{id}` plus `order:{id}:items`; the
// hash tag keeps both in the order's slot. Each partition also has an index of its running
// checkouts, which the recovery sweep reads (and one of the parked among them): `checkouts:pending` on each shard, and in cluster mode
// `checkouts:pending:{<tag>}` in each slot (Shards.partitionKey), so a checkout's begin and close
// touch one slot.
export const orderKey = (id: string) => `order:{${id}}`;
export const itemsKey = (id: string) => `order:{${id}}:items`;
export const PENDING_CHECKOUTS = "checkouts:pending";
/** The index of parked checkouts (their cancels or confirms kept failing), in each partition as the pending one. */
export const PARKED_CHECKOUTS = "checkouts:parked";
