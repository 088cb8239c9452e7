import type { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { jsonBodyOr400, parseOr400 } from "../common/params.js";
import { sagaRoutes, stockStepBody } from "../common/saga.js";
import { batchInitParams, changeStockParams, createItemParams, itemParams } from "./schemas.js";
import type { StockChange, StockStore } from "./store.js";

export function stockRoutes(app: Hono, store: StockStore): Hono {
  app.post("/stock/item/create/:price", async (c) => {
    const { price } = parseOr400(createItemParams, c.req.param());
    return c.json({ item_id: await store.createItem(price) });
  });

  app.post("/stock/batch_init/:n/:starting_stock/:item_price", async (c) => {
    const { n, starting_stock, item_price } = parseOr400(batchInitParams, c.req.param());
    await store.batchInit(n, starting_stock, item_price);
    return c.json({ msg: `Batch init for stock successful: ${n} items` });
  });

  app.get("/stock/find/:item_id", async (c) => {
    const { item_id } = parseOr400(itemParams, c.req.param());
    const item = await store.find(item_id);
    if (!item) throw new HTTPException(404, { message: `item ${item_id} not found` });
    return c.json(item);
  });

  app.post("/stock/add/:item_id/:amount", async (c) => {
    const { item_id, amount } = parseOr400(changeStockParams, c.req.param());
    return c.json({ item_id, stock: stockOr4xx(item_id, await store.add(item_id, amount)) });
  });

  app.post("/stock/subtract/:item_id/:amount", async (c) => {
    const { item_id, amount } = parseOr400(changeStockParams, c.req.param());
    return c.json({ item_id, stock: stockOr4xx(item_id, await store.subtract(item_id, amount)) });
  });

  // Saga participant routes, called by the order service only.
  app.post(sagaRoutes.reserveStock, async (c) => {
    const { tx, items } = await jsonBodyOr400(c, stockStepBody);
    const reply = await store.reserve(tx, items);
    return c.json(reply, reply.status === "done" ? 200 : 409);
  });

  app.post(sagaRoutes.releaseStock, async (c) => {
    const { tx, items } = await jsonBodyOr400(c, stockStepBody);
    await store.release(tx, items);
    return c.json({ status: "done" });
  });

  return app;
}

function stockOr4xx(itemId: string, change: StockChange): number {
  switch (change.status) {
    case "ok":
      return change.stock;
    case "not_found":
      throw new HTTPException(404, { message: `item ${itemId} not found` });
    case "overflow":
      throw new HTTPException(400, { message: "stock would exceed 2^53-1" });
    case "insufficient":
      throw new HTTPException(400, { message: `not enough stock: ${change.stock} left` });
  }
}
