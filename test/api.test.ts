// Every public endpoint and its errors, through the gateway, against real Redis and services.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { client, internalPost, PROTOCOL, rawHttp, shop, startTestStack, type TestStack } from "./helpers.js";
import { phaseRoute } from "@shardshop/orchestrator/http";

const STOCK_TRY = phaseRoute("stock", PROTOCOL, "try");

let stack: TestStack;
let api: TestStack["api"];
let fx: ReturnType<typeof shop>;

beforeAll(async () => {
  stack = await startTestStack();
  api = stack.api;
  fx = shop(api);
});
afterAll(() => stack?.teardown());

const MAX = Number.MAX_SAFE_INTEGER;
const BAD_AMOUNTS = ["0", "-1", "1.5", "1e3", "abc", "9007199254740992", "%20"];

describe("stock", () => {
  it("creates, finds, adds and subtracts", async () => {
    const created = await api.post("/stock/item/create/7");
    expect(created.status).toBe(200);
    expect(created.contentType).toMatch(/^application\/json/);
    const id = created.body.item_id;
    expect(await api.get(`/stock/find/${id}`)).toMatchObject({ status: 200, body: { stock: 0, price: 7 } });
    expect(await api.post(`/stock/add/${id}/10`)).toMatchObject({ status: 200, body: { item_id: id, stock: 10 } });
    expect(await api.post(`/stock/subtract/${id}/4`)).toMatchObject({ status: 200, body: { stock: 6 } });
    const tooMuch = await api.post(`/stock/subtract/${id}/7`);
    expect(tooMuch.status).toBe(400);
    expect(tooMuch.body.error).toMatch(/stock/);
    expect(await fx.stock(id)).toBe(6);
  });

  it("accepts price 0 and rejects malformed numbers without changing anything", async () => {
    const free = await api.post("/stock/item/create/0");
    expect(free.status).toBe(200);
    expect((await api.get(`/stock/find/${free.body.item_id}`)).body).toEqual({ stock: 0, price: 0 });
    const id = await fx.item(1, 5);
    for (const bad of BAD_AMOUNTS) {
      for (const path of [`/stock/add/${id}/${bad}`, `/stock/subtract/${id}/${bad}`]) {
        const reply = await api.post(path);
        expect(reply.status, path).toBe(400);
        expect(reply.body.error, path).toBeTypeOf("string");
        expect(reply.contentType).toMatch(/^application\/json/);
      }
    }
    for (const bad of ["-1", "1.0", "x"]) expect((await api.post(`/stock/item/create/${bad}`)).status).toBe(400);
    expect(await fx.stock(id)).toBe(5);
  });

  it("never stores more than 2^53-1", async () => {
    const id = await fx.item(1, MAX);
    expect(await fx.stock(id)).toBe(MAX);
    expect((await api.post(`/stock/add/${id}/1`)).status).toBe(400);
    expect(await fx.stock(id)).toBe(MAX);
  });

  it("answers 404 for unknown items and 400 for malformed ids", async () => {
    for (const path of ["/stock/add/nope/1", "/stock/subtract/nope/1"]) expect((await api.post(path)).status).toBe(404);
    const missing = await api.get("/stock/find/nope");
    expect(missing).toMatchObject({ status: 404, body: { error: expect.any(String) } });
    for (const bad of ["x".repeat(65), "a%7Bb%7D", "a%20b", "%00"]) {
      expect((await api.get(`/stock/find/${bad}`)).status, bad).toBe(400);
    }
  });

  it("batch_init creates items 0..n-1", async () => {
    expect((await api.post("/stock/batch_init/20/100/3")).status).toBe(200);
    for (const i of [0, 7, 19]) expect((await api.get(`/stock/find/${i}`)).body).toEqual({ stock: 100, price: 3 });
    expect((await api.get("/stock/find/20")).status).toBe(404);
    expect((await api.post("/stock/batch_init/0/1/1")).status).toBe(400);
    expect((await api.post("/stock/batch_init/100000000/1/1")).status).toBe(400);
    const beyond = await api.post("/stock/batch_init/1000001/1/1");
    expect(beyond.status).toBe(400);
    expect(beyond.body.error).toMatch(/^n: must be between 1 and 1000000$/);
  });

  it("batch_init overwrites items that exist, stock and price", async () => {
    expect((await api.post("/stock/batch_init/10/100/3")).status).toBe(200);
    expect((await api.post("/stock/subtract/7/40")).body.stock).toBe(60);
    expect((await api.post("/stock/batch_init/10/5/9")).status).toBe(200);
    for (const i of [0, 7, 9]) expect((await api.get(`/stock/find/${i}`)).body).toEqual({ stock: 5, price: 9 });
  });
});

describe("payment", () => {
  it("creates users, adds funds and pays", async () => {
    const created = await api.post("/payment/create_user");
    expect(created.status).toBe(200);
    const user = created.body.user_id;
    expect((await api.get(`/payment/find_user/${user}`)).body).toEqual({ user_id: user, credit: 0 });
    expect(await api.post(`/payment/add_funds/${user}/30`)).toMatchObject({ status: 200, body: { done: true } });
    expect(await api.post(`/payment/pay/${user}/10`)).toMatchObject({ status: 200, body: { credit: 20 } });
    expect((await api.post(`/payment/pay/${user}/21`)).status).toBe(400);
    expect(await fx.credit(user)).toBe(20);
  });

  it("pays for an order once and refunds it exactly once", async () => {
    const user = await fx.user(50);
    expect((await api.get(`/payment/status/${user}/o1`)).body).toEqual({ paid: false });
    expect((await api.post(`/payment/pay/${user}/o1/20`)).status).toBe(200);
    expect((await api.post(`/payment/pay/${user}/o1/20`)).status).toBe(200); // a repeat charges nothing
    expect(await fx.credit(user)).toBe(30);
    expect((await api.get(`/payment/status/${user}/o1`)).body).toEqual({ paid: true });
    expect((await api.post(`/payment/status/${user}/o1`)).body).toEqual({ paid: true });
    expect((await api.post(`/payment/cancel/${user}/o1`)).body).toMatchObject({ refunded: 20 });
    expect((await api.post(`/payment/cancel/${user}/o1`)).body).toMatchObject({ refunded: 0 });
    expect(await fx.credit(user)).toBe(50);
    expect((await api.get(`/payment/status/${user}/o1`)).body).toEqual({ paid: false });
    expect((await api.post(`/payment/pay/${user}/o2/51`)).status).toBe(400);
    expect((await api.get(`/payment/status/${user}/o2`)).body).toEqual({ paid: false });
  });

  it("rejects bad input and unknown users", async () => {
    const user = await fx.user(5);
    for (const bad of BAD_AMOUNTS) {
      expect((await api.post(`/payment/add_funds/${user}/${bad}`)).status).toBe(400);
      expect((await api.post(`/payment/pay/${user}/${bad}`)).status).toBe(400);
    }
    expect(await fx.credit(user)).toBe(5);
    expect((await api.post(`/payment/add_funds/${user}/${MAX}`)).status).toBe(400);
    for (const path of ["/payment/add_funds/nope/1", "/payment/pay/nope/1", "/payment/pay/nope/o/1", "/payment/cancel/nope/o"]) {
      expect((await api.post(path)).status, path).toBe(404);
    }
    expect((await api.get("/payment/find_user/nope")).status).toBe(404);
    expect((await api.get(`/payment/find_user/${"x".repeat(65)}`)).status).toBe(400);
  });

  it("batch_init creates users 0..n-1", async () => {
    expect((await api.post("/payment/batch_init/30/9")).status).toBe(200);
    for (const i of [0, 29]) expect((await api.get(`/payment/find_user/${i}`)).body).toEqual({ user_id: String(i), credit: 9 });
    // Existing users are overwritten too.
    expect((await api.post("/payment/add_funds/3/11")).status).toBe(200);
    expect((await api.post("/payment/batch_init/30/4")).status).toBe(200);
    for (const i of [0, 3, 29]) expect((await api.get(`/payment/find_user/${i}`)).body.credit).toBe(4);
    expect((await api.post("/payment/batch_init/1000001/4")).status).toBe(400);
  });
});

describe("orders", () => {
  it("creates orders for known users only", async () => {
    const user = await fx.user(0);
    const created = await api.post(`/orders/create/${user}`);
    expect(created.status).toBe(200);
    expect((await api.get(`/orders/find/${created.body.order_id}`)).body).toEqual({
      order_id: created.body.order_id,
      paid: false,
      items: [],
      user_id: user,
      total_cost: 0,
    });
    expect((await api.post("/orders/create/nope")).status).toBe(404);
    expect((await api.get("/orders/find/nope")).status).toBe(404);
  });

  it("adds and removes items at their captured price", async () => {
    const user = await fx.user(0);
    const [a, b] = [await fx.item(5, 0), await fx.item(3, 0)];
    const order = await fx.order(user, []);
    expect(await api.post(`/orders/addItem/${order}/${a}`)).toMatchObject({ status: 200, body: { total_cost: 5 } });
    expect((await api.post(`/orders/addItem/${order}/${a}/2`)).body.total_cost).toBe(15);
    expect((await api.post(`/orders/addItem/${order}/${b}/4`)).body.total_cost).toBe(27);
    let found = (await api.get(`/orders/find/${order}`)).body;
    expect(found.total_cost).toBe(27);
    expect(Object.fromEntries(found.items)).toEqual({ [a]: 3, [b]: 4 });

    expect((await api.delete(`/orders/removeItem/${order}/${a}/2`)).body.total_cost).toBe(17);
    expect((await api.post(`/orders/removeItem/${order}/${a}/2`)).status).toBe(400); // only 1 left
    expect((await api.post(`/orders/removeItem/${order}/${b}`)).body.total_cost).toBe(5);
    expect((await api.post(`/orders/removeItem/${order}/${b}`)).status).toBe(404);
    found = (await api.get(`/orders/find/${order}`)).body;
    expect(found).toMatchObject({ total_cost: 5, items: [[a, 1]] });
  });

  it("rejects unknown items and orders, and malformed quantities", async () => {
    const user = await fx.user(0);
    const item = await fx.item(2, 0);
    const order = await fx.order(user, [[item, 1]]);
    expect((await api.post(`/orders/addItem/${order}/nope`)).status).toBe(404);
    expect((await api.post(`/orders/addItem/nope/${item}`)).status).toBe(404);
    for (const bad of BAD_AMOUNTS) expect((await api.post(`/orders/addItem/${order}/${item}/${bad}`)).status).toBe(400);
    expect((await api.post(`/orders/addItem/${order}/${item}/${MAX}`)).status).toBe(400); // total overflows
    expect((await api.get(`/orders/find/${order}`)).body.total_cost).toBe(2);
  });

  it("cannot change or remove a paid order; can remove an unpaid one", async () => {
    const user = await fx.user(10);
    const item = await fx.item(4, 5);
    const order = await fx.order(user, [[item, 1]]);
    expect((await api.post(`/orders/checkout/${order}`)).status).toBe(200);
    expect((await api.post(`/orders/addItem/${order}/${item}`)).status).toBe(409);
    expect((await api.post(`/orders/removeItem/${order}/${item}`)).status).toBe(409);
    expect((await api.delete(`/orders/remove/${order}`)).status).toBe(409);

    const other = await fx.order(user, [[item, 1]]);
    expect((await api.delete(`/orders/remove/${other}`)).status).toBe(200);
    expect((await api.get(`/orders/find/${other}`)).status).toBe(404);
    expect((await api.post(`/orders/remove/${other}`)).status).toBe(404);
  });

  it("checks out: 404 unknown, 400 empty, 200 once, 200 again without charging", async () => {
    expect((await api.post("/orders/checkout/nope")).status).toBe(404);
    const user = await fx.user(10);
    expect((await api.post(`/orders/checkout/${await fx.order(user, [])}`)).status).toBe(400);
    const item = await fx.item(4, 5);
    const order = await fx.order(user, [[item, 2]]);
    const first = await api.post(`/orders/checkout/${order}`);
    expect(first).toMatchObject({ status: 200, body: { paid: true } });
    expect(first.contentType).toMatch(/^application\/json/);
    expect(first.body.already_paid).toBeUndefined();
    const again = await api.post(`/orders/checkout/${order}`);
    expect(again).toMatchObject({ status: 200, body: { order_id: order, paid: true, already_paid: true } });
    expect([await fx.stock(item), await fx.credit(user), await fx.paid(order)]).toEqual([3, 2, true]);
  });

  it("keeps the price an item had when it was added, whatever the item costs later", async () => {
    expect((await api.post("/stock/batch_init/3/10/5")).status).toBe(200);
    const user = await fx.user(100);
    const order = await fx.order(user, [["1", 2]]);
    expect((await api.get(`/orders/find/${order}`)).body.total_cost).toBe(10);
    // The item is overwritten at a new price (and stock): the order still owes what it captured.
    expect((await api.post("/stock/batch_init/3/10/40")).status).toBe(200);
    expect((await api.get(`/orders/find/${order}`)).body.total_cost).toBe(10);
    expect((await api.post(`/orders/checkout/${order}`)).status).toBe(200);
    expect(await fx.credit(user)).toBe(90);
    // A line added now takes the new price.
    const later = await fx.order(user, [["1", 1]]);
    expect((await api.get(`/orders/find/${later}`)).body.total_cost).toBe(40);
  });

  it("batch_init creates orders 0..n-1 for existing users and items", async () => {
    expect((await api.post("/stock/batch_init/10/100/4")).status).toBe(200);
    expect((await api.post("/payment/batch_init/10/100")).status).toBe(200);
    expect((await api.post("/orders/batch_init/25/10/10/4")).status).toBe(200);
    for (let i = 0; i < 25; i++) {
      const { body } = await api.get(`/orders/find/${i}`);
      expect(body).toMatchObject({ order_id: String(i), paid: false, total_cost: 8 });
      expect(Number(body.user_id)).toBeLessThan(10);
      expect(body.items.reduce((n: number, [, q]: [string, number]) => n + q, 0)).toBe(2);
    }
    const checkout = await api.post("/orders/checkout/3");
    expect(checkout.status).toBe(200);
    // Overwritten: order 3 is a fresh, unpaid order again.
    expect((await api.post("/orders/batch_init/25/10/10/4")).status).toBe(200);
    expect((await api.get("/orders/find/3")).body).toMatchObject({ order_id: "3", paid: false, total_cost: 8 });
    expect((await api.post("/orders/batch_init/1000001/10/10/4")).status).toBe(400);
  });
});

describe("services and hostile requests", () => {
  it("internal routes refuse proxied requests and validate their bodies", async () => {
    const stock = client(stack.services.stock[0]!.url);
    const proxied = await fetch(`${stock.base}${STOCK_TRY}`, {
      method: "POST",
      headers: { "x-forwarded-for": "203.0.113.9", "content-type": "application/json" },
      body: JSON.stringify({ tx: "t", items: [["0", 1]] }),
    });
    expect(proxied.status).toBe(404);
    for (const body of ["{", "[]", JSON.stringify({ tx: "t", items: [] }), JSON.stringify({ tx: "t", items: [["0", -1]] })]) {
      const res = await internalPost(stack, "stock", STOCK_TRY, body);
      expect(res.status, body).toBe(400);
    }
  });

  it("answers unknown routes and wrong methods with JSON 404", async () => {
    for (const [method, path] of [["GET", "/stock/item/create/1"], ["PUT", "/payment/create_user"], ["GET", "/orders/nothing"]] as const) {
      const res = await fetch(stack.url + path, { method });
      expect(res.status).toBe(404);
      expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    }
  });

  it("answers malformed HTTP straight at a service with a JSON 400", async () => {
    const reply = await rawHttp(stack.services.stock[0]!.port, "GET / HTTP/1.1\r\nno colon\r\n\r\n");
    expect(reply).toMatch(/^HTTP\/1\.1 400/);
    expect(reply).toContain("Content-Type: application/json");
    expect(reply).toContain('{"error":"malformed request"}');
    const backslash = await rawHttp(stack.services.stock[0]!.port, "POST /stock/..\\internal/stock/reserve HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    expect(backslash).toMatch(/^HTTP\/1\.1 400/);
    expect(backslash.toLowerCase()).toContain("content-type: application/json");
    expect(backslash).toContain('{"error":"malformed request target"}');
  });

  it("refuses oversized or unsized internal bodies without reading them", async () => {
    const res = await fetch(`${stack.services.stock[0]!.url}${STOCK_TRY}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ tx: "t", items: [["0", 1]], pad: "x".repeat(300_000) }),
    });
    expect(res.status).toBe(413);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    const chunked = await fetch(`${stack.services.stock[0]!.url}${STOCK_TRY}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: new Blob(['{"tx":"t","items":[["0",1]]}']).stream(),
      duplex: "half",
    } as RequestInit);
    expect(chunked.status).toBe(411);
  });

  it("serves health and readiness on each service, saying what its data lives on", async () => {
    // The stack's one shard, or (REDIS_MODE=cluster) a cluster of three masters.
    const layout = process.env.REDIS_MODE === "cluster" ? { mode: "cluster", masters: 3 } : { mode: "shards", shards: 1 };
    for (const service of ["order", "stock", "payment"] as const) {
      const direct = client(stack.services[service][0]!.url);
      expect(await direct.get("/health")).toMatchObject({ status: 200, body: { status: "ok" } });
      expect(await direct.get("/ready")).toMatchObject({ status: 200, body: { status: "ready", service, ...layout } });
    }
  });
});
