import { HTTPException } from "hono/http-exception";
import { publicRoute } from "../common/openapi.js";
import { stockPart, type StockPart } from "../common/contract.js";
import { perProtocol } from "@shardshop/orchestrator";
import { participantRoutes } from "@shardshop/orchestrator/http";
import type { ServiceApp } from "../common/server.js";
import { batchDone, batchInitParams, changeStockParams, createItemParams, item, itemCreated, itemParams, stockLevel } from "./schemas.js";
import type { StockChange, StockStore } from "./store.js";

export function stockRoutes(app: ServiceApp, store: StockStore): void {
  publicRoute(
    app,
    {
      method: "post",
      path: "/stock/item/create/{price}",
      summary: "Create an item with no stock",
      params: createItemParams,
      reply: itemCreated,
      errors: [400, 503],
      idempotent: true,
    },
    async (c, { price }, _, key) => c.json({ item_id: await store.createItem(price, key) }),
  );

  publicRoute(
    app,
    {
      method: "post",
      path: "/stock/batch_init/{n}/{starting_stock}/{item_price}",
      loadsBenchmarkData: true,
      summary: "Create (or overwrite) items 0..n-1 with the same stock and price",
      params: batchInitParams,
      reply: batchDone,
      errors: [400, 503],
    },
    async (c, { n, starting_stock, item_price }) => {
      await store.batchInit(n, starting_stock, item_price);
      return c.json({ msg: `Batch init for stock successful: ${n} items` });
    },
  );

  publicRoute(
    app,
    { method: "get", path: "/stock/find/{item_id}", summary: "An item's stock and price", params: itemParams, reply: item, errors: [400, 404, 503] },
    async (c, { item_id }) => {
      const found = await store.find(item_id);
      if (!found) throw new HTTPException(404, { message: `item ${item_id} not found` });
      return c.json(found);
    },
  );

  publicRoute(
    app,
    {
      method: "post",
      path: "/stock/add/{item_id}/{amount}",
      summary: "Add stock to an item",
      params: changeStockParams,
      reply: stockLevel,
      errors: [400, 404, 503],
      idempotent: true,
    },
    async (c, { item_id, amount }, _, key) => c.json({ item_id, stock: stockOr4xx(item_id, await store.add(item_id, amount, key)) }),
  );

  publicRoute(
    app,
    {
      method: "post",
      path: "/stock/subtract/{item_id}/{amount}",
      summary: "Take stock from an item; refused (400) if it has less",
      params: changeStockParams,
      reply: stockLevel,
      errors: [400, 404, 503],
      idempotent: true,
    },
    async (c, { item_id, amount }, _, key) => c.json({ item_id, stock: stockOr4xx(item_id, await store.subtract(item_id, amount, key)) }),
  );

  // The checkout's phases, called by the order service only.
  app.servePhases(participantRoutes<StockPart, string>("stock", stockPart, perProtocol((protocol) => ({
    try: ({ tx, items }) => store.try(protocol, tx, items),
    cancel: ({ tx, items }) => store.cancel(protocol, tx, items),
    confirm: (txs) => store.confirm(protocol, txs),
  }))));
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
