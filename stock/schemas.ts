import { z } from "zod";
import { amount, batchSize, id, price } from "../common/params.js";

export const createItemParams = z.object({ price });
export const batchInitParams = z.object({ n: batchSize, starting_stock: price, item_price: price });
export const itemParams = z.object({ item_id: id });
export const changeStockParams = z.object({ item_id: id, amount });
