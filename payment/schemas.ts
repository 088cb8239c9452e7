import { z } from "@hono/zod-openapi";
import { amount, batchSize, id, startingAmount } from "../common/params.js";

export const batchInitParams = z.object({ n: batchSize, starting_money: startingAmount });
export const userParams = z.object({ user_id: id });
export const fundsParams = z.object({ user_id: id, amount });
export const orderPaymentParams = z.object({ user_id: id, order_id: id, amount });
export const orderParams = z.object({ user_id: id, order_id: id });

export const userCreated = z.object({ user_id: z.string() }).openapi("UserCreated");
export const userCredit = z.object({ user_id: z.string(), credit: z.number().int() }).openapi("UserCredit");
export const fundsAdded = z.object({ done: z.literal(true) }).openapi("FundsAdded");
export const paymentCancelled = z
  .object({ user_id: z.string(), order_id: z.string(), refunded: z.number().int() })
  .openapi("PaymentCancelled");
export const paymentStatus = z.object({ paid: z.boolean() }).openapi("PaymentStatus");
export const batchDone = z.object({ msg: z.string() }).openapi("BatchInitDone");
