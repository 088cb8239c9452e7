import { z } from "zod";
import { amount, batchSize, id, price } from "../common/params.js";

export const batchInitParams = z.object({ n: batchSize, starting_money: price });
export const userParams = z.object({ user_id: id });
export const fundsParams = z.object({ user_id: id, amount });
export const orderPaymentParams = z.object({ user_id: id, order_id: id, amount });
export const orderParams = z.object({ user_id: id, order_id: id });
