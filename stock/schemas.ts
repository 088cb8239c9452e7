import { z } from "@hono/zod-openapi";
import { amount, batchSize, id, price, startingAmount } from "../common/params.js";

export const createItemParams = z.object({ price });
export const batchInitParams = z.object({ n: batchSize, starting_stock: startingAmount, item_price: price });
export const itemParams = z.object({ item_id: id });
export const changeStockParams = z.object({ item_id: id, amount });

export const itemCreated = z.object({ item_id: z.string() }).openapi("ItemCreated");
export const item = z.object({ stock: z.number().int(), price: z.number().int() }).openapi("Item");
export const stockLevel = z.object({ item_id: z.string(), stock: z.number().int() }).openapi("StockLevel");
export const batchDone = z.object({ msg: z.string() }).openapi("BatchInitDone");
