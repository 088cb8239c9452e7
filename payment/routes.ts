import type { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { jsonBodyOr400, parseOr400 } from "../common/params.js";
import { chargeBody, refundBody, sagaRoutes } from "../common/saga.js";
import { batchInitParams, fundsParams, orderParams, orderPaymentParams, userParams } from "./schemas.js";
import type { CreditChange, PaymentStore } from "./store.js";

export function paymentRoutes(app: Hono, store: PaymentStore): Hono {
  app.post("/payment/create_user", async (c) => c.json({ user_id: await store.createUser() }));

  app.post("/payment/batch_init/:n/:starting_money", async (c) => {
    const { n, starting_money } = parseOr400(batchInitParams, c.req.param());
    await store.batchInit(n, starting_money);
    return c.json({ msg: `Batch init for users successful: ${n} users` });
  });

  app.get("/payment/find_user/:user_id", async (c) => {
    const { user_id } = parseOr400(userParams, c.req.param());
    const credit = await store.credit(user_id);
    if (credit === null) throw userNotFound(user_id);
    return c.json({ user_id, credit });
  });

  app.post("/payment/add_funds/:user_id/:amount", async (c) => {
    const { user_id, amount } = parseOr400(fundsParams, c.req.param());
    creditOr4xx(user_id, await store.addFunds(user_id, amount));
    return c.json({ done: true });
  });

  app.post("/payment/pay/:user_id/:amount", async (c) => {
    const { user_id, amount } = parseOr400(fundsParams, c.req.param());
    return c.json({ user_id, credit: creditOr4xx(user_id, await store.pay(user_id, amount)) });
  });

  app.post("/payment/pay/:user_id/:order_id/:amount", async (c) => {
    const { user_id, order_id, amount } = parseOr400(orderPaymentParams, c.req.param());
    return c.json({ user_id, credit: creditOr4xx(user_id, await store.pay(user_id, amount, order_id)) });
  });

  app.post("/payment/cancel/:user_id/:order_id", async (c) => {
    const { user_id, order_id } = parseOr400(orderParams, c.req.param());
    const refunded = await store.cancelOrderPayment(user_id, order_id);
    if (refunded === null) throw userNotFound(user_id);
    return c.json({ user_id, order_id, refunded });
  });

  app.on(["GET", "POST"], "/payment/status/:user_id/:order_id", async (c) => {
    const { user_id, order_id } = parseOr400(orderParams, c.req.param());
    return c.json({ paid: await store.orderPaid(user_id, order_id) });
  });

  // Saga participant routes, called by the order service only.
  app.post(sagaRoutes.chargeCredit, async (c) => {
    const { tx, user_id, amount } = await jsonBodyOr400(c, chargeBody);
    const reply = await store.charge(tx, user_id, amount);
    return c.json(reply, reply.status === "done" ? 200 : 409);
  });

  app.post(sagaRoutes.refundCredit, async (c) => {
    const { tx, user_id } = await jsonBodyOr400(c, refundBody);
    await store.refund(tx, user_id);
    return c.json({ status: "done" });
  });

  return app;
}

const userNotFound = (id: string) => new HTTPException(404, { message: `user ${id} not found` });

function creditOr4xx(userId: string, change: CreditChange): number {
  switch (change.status) {
    case "ok":
    case "already_paid":
      return change.credit;
    case "not_found":
      throw userNotFound(userId);
    case "overflow":
      throw new HTTPException(400, { message: "credit would exceed 2^53-1" });
    case "insufficient":
      throw new HTTPException(400, { message: `not enough credit: ${change.credit} left` });
  }
}
