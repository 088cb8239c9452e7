import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { MAX_ORDER_LINES } from "../common/contract.js";
import { elapsedSeconds } from "@shardshop/orchestrator";
import { publicRoute } from "../common/openapi.js";
import type { ServiceApp } from "../common/server.js";
import type { Orchestrator } from "@shardshop/orchestrator";
import type { CheckoutParticipantRefusal } from "./checkout.js";
import { checkoutDuration } from "./metrics.js";
import { answerOf, checkoutReply } from "./outcomes.js";
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
import type { CheckoutPayload, CheckoutRefusal, OrderChange, OrderStore } from "./store.js";

export function orderRoutes(
  app: ServiceApp,
  store: OrderStore,
  participants: Participants,
  engine: Orchestrator<CheckoutPayload, CheckoutRefusal, CheckoutParticipantRefusal>,
): void {
  publicRoute(
    app,
    {
      method: "post",
      path: "/orders/create/{user_id}",
      summary: "Create an empty order for a user",
      params: userParams,
      reply: orderCreated,
      errors: [400, 404, 503],
      idempotent: true,
    },
    async (c, { user_id }, request, key) => {
      if (!(await participants.userExists(user_id, request))) throw new HTTPException(404, { message: `user ${user_id} not found` });
      return c.json({ order_id: await store.create(user_id, key) });
    },
  );

  publicRoute(
    app,
    {
      method: "post",
      path: "/orders/batch_init/{n}/{n_items}/{n_users}/{item_price}",
      loadsBenchmarkData: true,
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
      idempotent: true,
    },
    async (c, { order_id, item_id, quantity = 1 }, request, key) => {
      const price = await participants.itemPrice(item_id, request);
      if (price === null) throw new HTTPException(404, { message: `item ${item_id} not found` });
      return orderChanged(c, order_id, await store.addItem(order_id, item_id, quantity, price, key));
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
      idempotent: true,
    },
    async (c, { order_id, item_id, quantity }, _, key) => orderChanged(c, order_id, await store.removeItem(order_id, item_id, quantity, key)),
  );

  publicRoute(
    app,
    {
      method: ["delete", "post"],
      path: "/orders/remove/{order_id}",
      summary: "Delete an unpaid order",
      params: orderParams,
      reply: orderRemoved,
      errors: [400, 404, 409, 503],
      idempotent: true,
    },
    async (c, { order_id }, _, key) => {
      orderChangeOr4xx(order_id, await store.remove(order_id, key));
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
      errors: [400, 404, 409, 424, 429, 503],
    },
    async (c, { order_id }, request) => {
      const start = performance.now();
      const outcome = await engine.run(order_id, request);
      const { outcome: kind, reason } = answerOf(outcome);
      checkoutDuration.recorder(kind, reason).observe(elapsedSeconds(start));
      const [status, body, headers] = checkoutReply(order_id, outcome);
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
    case "too_many_lines":
      throw new HTTPException(400, { message: `an order holds at most ${MAX_ORDER_LINES} distinct items` });
  }
}
