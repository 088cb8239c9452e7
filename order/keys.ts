// The order service's Redis keys. An order is the hash `order:{id}` plus `order:{id}:items`; the
// hash tag keeps both in the order's slot. Each shard also has one `checkouts:pending` index of its
// running checkouts (no hash tag: it belongs to the shard), which the recovery sweep reads.
export const orderKey = (id: string) => `order:{${id}}`;
export const itemsKey = (id: string) => `order:{${id}}:items`;
export const PENDING_CHECKOUTS = "checkouts:pending";
