import type { Context, Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { parseOr400 } from "../common/params.js";
import type { Checkout, CheckoutOutcome } from "./checkout.js";
import type { Participants } from "./participants.js";
import { batchInitParams, itemChangeParams, orderParams, userParams } from "./schemas.js";
import type { OrderChange, OrderStore } from "./store.js";

export function orderRoutes(app: Hono, store: OrderStore, participants: Participants, checkout: Checkout): Hono {
  app.post("/orders/create/:user_id", async (c) => {
    const { user_id } = parseOr400(userParams, c.req.param());
    if (!(await participants.userExists(user_id))) throw new HTTPException(404, { message: `user ${user_id} not found` });
    return c.json({ order_id: await store.create(user_id) });
  });

  app.post("/orders/batch_init/:n/:n_items/:n_users/:item_price", async (c) => {
    const { n, n_items, n_users, item_price } = parseOr400(batchInitParams, c.req.param());
    await store.batchInit(n, n_items, n_users, item_price);
    return c.json({ msg: `Batch init for orders successful: ${n} orders` });
  });

  app.get("/orders/find/:order_id", async (c) => {
    const { order_id } = parseOr400(orderParams, c.req.param());
    const order = await store.find(order_id);
    if (!order) throw orderNotFound(order_id);
    return c.json(order);
  });

  app.post("/orders/addItem/:order_id/:item_id/:quantity?", async (c) => {
    const { order_id, item_id, quantity = 1 } = parseOr400(itemChangeParams, c.req.param());
    const price = await participants.itemPrice(item_id);
    if (price === null) throw new HTTPException(404, { message: `item ${item_id} not found` });
    return orderChanged(c, order_id, await store.addItem(order_id, item_id, quantity, price));
  });

  app.on(["DELETE", "POST"], "/orders/removeItem/:order_id/:item_id/:quantity?", async (c) => {
    const { order_id, item_id, quantity } = parseOr400(itemChangeParams, c.req.param());
    return orderChanged(c, order_id, await store.removeItem(order_id, item_id, quantity));
  });

  app.on(["DELETE", "POST"], "/orders/remove/:order_id", async (c) => {
    const { order_id } = parseOr400(orderParams, c.req.param());
    orderChangeOr4xx(order_id, await store.remove(order_id));
    return c.json({ order_id, removed: true });
  });

  app.post("/orders/checkout/:order_id", async (c) => {
    const { order_id } = parseOr400(orderParams, c.req.param());
    const outcome = await checkout.checkout(order_id);
    const [status, body] = checkoutReply(order_id, outcome);
    return c.json(body, status);
  });

  return app;
}

const orderNotFound = (id: string) => new HTTPException(404, { message: `order ${id} not found` });

function orderChanged(c: Context, orderId: string, change: OrderChange) {
  return c.json({ order_id: orderId, total_cost: orderChangeOr4xx(orderId, change) });
}

/** The order's new total, or the 4xx that says why it did not change. */
function orderChangeOr4xx(orderId: string, change: OrderChange): number {
  switch (change.status) {
    case "ok":
      return change.total;
    case "not_found":
      throw orderNotFound(orderId);
    case "paid":
      throw new HTTPException(409, { message: "order is already paid and cannot change" });
    case "busy":
      throw new HTTPException(409, { message: "order is being checked out and cannot change" });
    case "overflow":
      throw new HTTPException(400, { message: "order quantity or total would exceed 2^53-1" });
    case "not_in_order":
      throw new HTTPException(404, { message: "item is not in the order" });
    case "too_many":
      throw new HTTPException(400, { message: `order holds only ${change.held} of that item` });
  }
}

/** A checkout answers 2xx if and only if the order is paid; a decided abort is always a 4xx. */
function checkoutReply(orderId: string, outcome: CheckoutOutcome): [ContentfulStatusCode, object] {
  switch (outcome.kind) {
    case "committed":
      return [200, { order_id: orderId, paid: true }];
    case "already_paid":
      return [200, { order_id: orderId, paid: true, already_paid: true }];
    case "not_found":
      return [404, { error: `order ${orderId} not found` }];
    case "empty":
      return [400, { error: "order has no items" }];
    case "aborted":
      return ABORTS[outcome.reason] ?? [424, { error: `checkout rolled back: ${outcome.reason}` }];
  }
}

const ABORTS: Record<string, [ContentfulStatusCode, object]> = {
  insufficient_stock: [400, { error: "not enough stock; checkout rolled back" }],
  insufficient_credit: [400, { error: "not enough credit; checkout rolled back" }],
  unknown_item: [400, { error: "the order holds an item that no longer exists; checkout rolled back" }],
  unknown_user: [400, { error: "the order's user no longer exists; checkout rolled back" }],
  unavailable: [424, { error: "stock or payment could not be reached; checkout rolled back" }],
};
