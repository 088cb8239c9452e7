import { z } from "zod";
import { batchSize, decimal, id, MAX_VALUE, quantity } from "../common/params.js";

export const userParams = z.object({ user_id: id });
export const orderParams = z.object({ order_id: id });
export const batchInitParams = z.object({
  n: batchSize,
  n_items: batchSize,
  n_users: batchSize,
  // Each order holds two units, so its total must stay storable.
  item_price: decimal(0, Math.floor(MAX_VALUE / 2)),
});
/** The quantity is optional in the path: addItem defaults to 1, removeItem to the whole line. */
export const itemChangeParams = z.object({ order_id: id, item_id: id, quantity: quantity.optional() });
