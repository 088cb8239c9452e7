import { HTTPException } from "hono/http-exception";
import { publicRoute } from "../common/openapi.js";
import { paymentPart, type PaymentPart } from "../common/contract.js";
import { perProtocol } from "@shardshop/orchestrator";
import { participantRoutes } from "@shardshop/orchestrator/http";
import type { ServiceApp } from "../common/server.js";
import {
  batchDone,
  batchInitParams,
  fundsAdded,
  fundsParams,
  orderParams,
  orderPaymentParams,
  paymentCancelled,
  paymentStatus,
  userCreated,
  userCredit,
  userParams,
} from "./schemas.js";
import type { CreditChange, PaymentStore } from "./store.js";

export function paymentRoutes(app: ServiceApp, store: PaymentStore): void {
  publicRoute(
    app,
    { method: "post", path: "/payment/create_user", summary: "Create a user with no credit", reply: userCreated, errors: [503], idempotent: true },
    async (c, _, _request, key) => c.json({ user_id: await store.createUser(key) }),
  );

  publicRoute(
    app,
    {
      method: "post",
      path: "/payment/batch_init/{n}/{starting_money}",
      loadsBenchmarkData: true,
      summary: "Create (or overwrite) users 0..n-1 with the same credit",
      params: batchInitParams,
      reply: batchDone,
      errors: [400, 503],
    },
    async (c, { n, starting_money }) => {
      await store.batchInit(n, starting_money);
      return c.json({ msg: `Batch init for users successful: ${n} users` });
    },
  );

  publicRoute(
    app,
    { method: "get", path: "/payment/find_user/{user_id}", summary: "A user's credit", params: userParams, reply: userCredit, errors: [400, 404, 503] },
    async (c, { user_id }) => {
      const credit = await store.credit(user_id);
      if (credit === null) throw userNotFound(user_id);
      return c.json({ user_id, credit });
    },
  );

  publicRoute(
    app,
    { method: "post", path: "/payment/add_funds/{user_id}/{amount}", summary: "Add credit to a user", params: fundsParams, reply: fundsAdded, errors: [400, 404, 503], idempotent: true },
    async (c, { user_id, amount }, _, key) => {
      creditOr4xx(user_id, await store.addFunds(user_id, amount, key));
      return c.json({ done: true });
    },
  );

  publicRoute(
    app,
    {
      method: "post",
      path: "/payment/pay/{user_id}/{amount}",
      summary: "Take credit from a user; refused (400) if short",
      params: fundsParams,
      reply: userCredit,
      errors: [400, 404, 503],
      idempotent: true,
    },
    async (c, { user_id, amount }, _, key) => c.json({ user_id, credit: creditOr4xx(user_id, await store.pay(user_id, amount, undefined, key)) }),
  );

  publicRoute(
    app,
    {
      method: "post",
      path: "/payment/pay/{user_id}/{order_id}/{amount}",
      summary: "Pay for an order from a user's credit, once per order",
      params: orderPaymentParams,
      reply: userCredit,
      errors: [400, 404, 503],
      idempotent: true,
    },
    async (c, { user_id, order_id, amount }, _, key) => c.json({ user_id, credit: creditOr4xx(user_id, await store.pay(user_id, amount, order_id, key)) }),
  );

  publicRoute(
    app,
    {
      method: "post",
      path: "/payment/cancel/{user_id}/{order_id}",
      summary: "Refund an order's direct payment",
      params: orderParams,
      reply: paymentCancelled,
      errors: [400, 404, 503],
      idempotent: true,
    },
    async (c, { user_id, order_id }, _, key) => {
      const refunded = await store.cancelOrderPayment(user_id, order_id, key);
      if (refunded === null) throw userNotFound(user_id);
      return c.json({ user_id, order_id, refunded });
    },
  );

  publicRoute(
    app,
    {
      method: ["get", "post"],
      path: "/payment/status/{user_id}/{order_id}",
      summary: "Whether an order was paid directly",
      params: orderParams,
      reply: paymentStatus,
      errors: [400, 503],
    },
    async (c, { user_id, order_id }) => c.json({ paid: await store.orderPaid(user_id, order_id) }),
  );

  // The checkout's phases, called by the order service only.
  app.servePhases(participantRoutes<PaymentPart, string>("payment", paymentPart, perProtocol((protocol) => ({
    try: ({ tx, user_id, amount }) => store.try(protocol, tx, user_id, amount),
    cancel: ({ tx, user_id, amount }) => store.cancel(protocol, tx, user_id, amount),
    confirm: (txs) => store.confirm(protocol, txs),
  }))));
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
