import { z } from "@hono/zod-openapi";
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

export const orderCreated = z.object({ order_id: z.string() }).openapi("OrderCreated");
export const order = z
  .object({
    order_id: z.string(),
    paid: z.boolean(),
    items: z.array(z.tuple([z.string(), z.number().int()])).openapi({ description: "[item_id, quantity] per line" }),
    user_id: z.string(),
    total_cost: z.number().int(),
  })
  .openapi("Order");
export const orderTotal = z.object({ order_id: z.string(), total_cost: z.number().int() }).openapi("OrderTotal");
export const orderRemoved = z.object({ order_id: z.string(), removed: z.literal(true) }).openapi("OrderRemoved");
export const checkoutDone = z
  .object({ order_id: z.string(), paid: z.literal(true), already_paid: z.boolean().optional() })
  .openapi("CheckoutDone");
export const batchDone = z.object({ msg: z.string() }).openapi("BatchInitDone");
