import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { publicRoute } from "../common/openapi.js";
import type { ServiceApp } from "../common/server.js";
import type { Checkout, CheckoutOutcome } from "./checkout.js";
import type { Participants } from "./participants.js";
import {
  batchDone,
  batchInitParams,
  checkoutDone,
  itemChangeParams,
  order,
  orderCreated,
  orderParams,
  orderRemoved,
  orderTotal,
  userParams,
} from "./schemas.js";
import type { OrderChange, OrderStore } from "./store.js";

export function orderRoutes(app: ServiceApp, store: OrderStore, participants: Participants, checkout: Checkout): void {
  publicRoute(
    app,
    { method: "post", path: "/orders/create/{user_id}", summary: "Create an empty order for a user", params: userParams, reply: orderCreated, errors: [400, 404, 503] },
    async (c, { user_id }, request) => {
      if (!(await participants.userExists(user_id, request))) throw new HTTPException(404, { message: `user ${user_id} not found` });
      return c.json({ order_id: await store.create(user_id) });
    },
  );

  publicRoute(
    app,
    {
      method: "post",
      path: "/orders/batch_init/{n}/{n_items}/{n_users}/{item_price}",
      summary: "Create (or overwrite) orders 0..n-1 of two random items each, for random users",
      params: batchInitParams,
      reply: batchDone,
      errors: [400, 503],
    },
    async (c, { n, n_items, n_users, item_price }) => {
      await store.batchInit(n, n_items, n_users, item_price);
      return c.json({ msg: `Batch init for orders successful: ${n} orders` });
    },
  );

  publicRoute(
    app,
    { method: "get", path: "/orders/find/{order_id}", summary: "An order with its items", params: orderParams, reply: order, errors: [400, 404, 503] },
    async (c, { order_id }) => {
      const found = await store.find(order_id);
      if (!found) throw orderNotFound(order_id);
      return c.json(found);
    },
  );

  publicRoute(
    app,
    {
      method: "post",
      path: ["/orders/addItem/{order_id}/{item_id}/{quantity}", "/orders/addItem/{order_id}/{item_id}"],
      summary: "Add units of an item (1 unless given) at its current price",
      params: itemChangeParams,
      reply: orderTotal,
      errors: [400, 404, 409, 503],
    },
    async (c, { order_id, item_id, quantity = 1 }, request) => {
      const price = await participants.itemPrice(item_id, request);
      if (price === null) throw new HTTPException(404, { message: `item ${item_id} not found` });
      return orderChanged(c, order_id, await store.addItem(order_id, item_id, quantity, price));
    },
  );

  publicRoute(
    app,
    {
      method: ["delete", "post"],
      path: ["/orders/removeItem/{order_id}/{item_id}/{quantity}", "/orders/removeItem/{order_id}/{item_id}"],
      summary: "Remove units of an item (the whole line unless given)",
      params: itemChangeParams,
      reply: orderTotal,
      errors: [400, 404, 409, 503],
    },
    async (c, { order_id, item_id, quantity }) => orderChanged(c, order_id, await store.removeItem(order_id, item_id, quantity)),
  );

  publicRoute(
    app,
    { method: ["delete", "post"], path: "/orders/remove/{order_id}", summary: "Delete an unpaid order", params: orderParams, reply: orderRemoved, errors: [400, 404, 409, 503] },
    async (c, { order_id }) => {
      orderChangeOr4xx(order_id, await store.remove(order_id));
      return c.json({ order_id, removed: true });
    },
  );

  publicRoute(
    app,
    {
      method: "post",
      path: "/orders/checkout/{order_id}",
      summary: "Pay for the order: reserve its stock and charge its user, all or nothing. 2xx if and only if it is paid",
      params: orderParams,
      reply: checkoutDone,
      errors: [400, 404, 424, 429, 503],
    },
    async (c, { order_id }, request) => {
      const [status, body, headers] = checkoutReply(order_id, await checkout.checkout(order_id, request));
      return c.json(body, status, headers);
    },
  );
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
function checkoutReply(orderId: string, outcome: CheckoutOutcome): [ContentfulStatusCode, object, Record<string, string>?] {
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
    case "rejected": {
      const retryAfter = { "Retry-After": String(outcome.retryAfter) };
      return outcome.reason === "overloaded"
        ? [429, { error: "too many checkouts in progress on this instance; nothing was changed" }, retryAfter]
        : [424, { error: `${outcome.participant} service is unavailable (circuit open); nothing was changed` }, retryAfter];
    }
  }
}

const ABORTS: Record<string, [ContentfulStatusCode, object]> = {
  insufficient_stock: [400, { error: "not enough stock; checkout rolled back" }],
  insufficient_credit: [400, { error: "not enough credit; checkout rolled back" }],
  unknown_item: [400, { error: "the order holds an item that no longer exists; checkout rolled back" }],
  unknown_user: [400, { error: "the order's user no longer exists; checkout rolled back" }],
  unavailable: [424, { error: "stock or payment could not be reached; checkout rolled back" }],
};
