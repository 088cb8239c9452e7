// Idempotency-Key on every public change, against real services and Redis: a repeat applies
// nothing and answers what the first answered, the same key with another request is a 422 that
// changes nothing, concurrent repeats apply once, keys expire, and malformed keys are refused.
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { client, shop, startTestStack, type TestStack } from "./helpers.js";

const keyed = (key: string) => ({ "idempotency-key": key });

describe("Idempotency-Key", () => {
  let stack: TestStack;
  let fx: ReturnType<typeof shop>;
  beforeAll(async () => {
    stack = await startTestStack({ shards: 2 });
    fx = shop(stack.api);
  });
  afterAll(() => stack?.teardown());

  /** Sends `path` twice with one new key; both answers must be equal, and are returned. */
  async function twice(path: string, method: "post" | "delete" = "post") {
    const key = randomUUID();
    const first = await stack.api[method](path, keyed(key));
    const second = await stack.api[method](path, keyed(key));
    expect({ status: second.status, body: second.body }).toEqual({ status: first.status, body: first.body });
    return { key, first };
  }

  it("creations: a repeat hands back the same new id and creates nothing more", async () => {
    const user = await twice("/payment/create_user");
    expect(user.first.status).toBe(200);
    const userId = user.first.body.user_id as string;
    expect(userId).toMatch(/^k[A-Za-z0-9_-]{43}$/);
    const item = await twice("/stock/item/create/7");
    expect((await stack.api.get(`/stock/find/${item.first.body.item_id}`)).body).toEqual({ stock: 0, price: 7 });
    const order = await twice(`/orders/create/${userId}`);
    expect((await stack.api.get(`/orders/find/${order.first.body.order_id}`)).body.user_id).toBe(userId);
    // Without a key, every call creates another.
    const [a, b] = [await stack.api.post("/payment/create_user"), await stack.api.post("/payment/create_user")];
    expect(a.body.user_id).not.toBe(b.body.user_id);
  });

  it("a gateway's retry key makes one request safe to re-send: a repeat applies nothing, and a client's Idempotency-Key comes first", async () => {
    // Straight to an instance, as a gateway re-sending a request whose first instance died would.
    const payment = client(`http://127.0.0.1:${stack.services.payment[0]!.port}`);
    try {
      const user = await fx.user(10);
      const resend = { "x-shardshop-retry-key": randomUUID() };
      const first = await payment.post(`/payment/add_funds/${user}/5`, resend);
      const again = await payment.post(`/payment/add_funds/${user}/5`, resend);
      expect([first.status, again.status]).toEqual([200, 200]);
      expect(again.body).toEqual(first.body);
      expect(await fx.credit(user)).toBe(15);
      const created = await Promise.all([0, 1].map(() => payment.post("/payment/create_user", resend)));
      expect(created[1]!.body.user_id).toBe(created[0]!.body.user_id);
      // With both, the client's key decides: a new client key is a new request.
      await payment.post(`/payment/add_funds/${user}/5`, { ...resend, ...keyed(randomUUID()) });
      expect(await fx.credit(user)).toBe(20);
    } finally {
      await payment.close();
    }
  });

  it("credit and stock changes apply once, and a repeat answers the first answer", async () => {
    const user = await fx.user(10);
    await twice(`/payment/add_funds/${user}/5`);
    expect(await fx.credit(user)).toBe(15);
    const paid = await twice(`/payment/pay/${user}/4`);
    expect(paid.first.body).toEqual({ user_id: user, credit: 11 });
    expect(await fx.credit(user)).toBe(11);
    const item = await fx.item(1, 0);
    await twice(`/stock/add/${item}/6`);
    expect(await fx.stock(item)).toBe(6);
    const taken = await twice(`/stock/subtract/${item}/2`);
    expect(taken.first.body).toEqual({ item_id: item, stock: 4 });
    expect(await fx.stock(item)).toBe(4);
  });

  it("an order's payment and its refund apply once", async () => {
    const user = await fx.user(10);
    await twice(`/payment/pay/${user}/o1/3`);
    expect(await fx.credit(user)).toBe(7);
    const refund = await twice(`/payment/cancel/${user}/o1`);
    expect(refund.first.body.refunded).toBe(3);
    expect(await fx.credit(user)).toBe(10);
  });

  it("order changes apply once: addItem, removeItem (DELETE or POST) and remove", async () => {
    const user = await fx.user(0);
    const item = await fx.item(3, 0);
    const order = await fx.order(user, []);
    const added = await twice(`/orders/addItem/${order}/${item}/2`);
    expect(added.first.body.total_cost).toBe(6);
    const removed = await twice(`/orders/removeItem/${order}/${item}/1`, "delete");
    expect(removed.first.body.total_cost).toBe(3);
    // The same request by the route's other method is the same request: replayed.
    expect((await stack.api.post(`/orders/removeItem/${order}/${item}/1`, keyed(removed.key))).body).toEqual(removed.first.body);
    expect((await stack.api.get(`/orders/find/${order}`)).body.items).toEqual([[item, 1]]);
    const gone = await twice(`/orders/remove/${order}`);
    expect(gone.first.body).toEqual({ order_id: order, removed: true });
    expect((await stack.api.get(`/orders/find/${order}`)).status).toBe(404);
  });

  it("a refusal is replayed too: a refused pay repeated after a deposit is still refused", async () => {
    const user = await fx.user(3);
    const key = randomUUID();
    const refused = await stack.api.post(`/payment/pay/${user}/5`, keyed(key));
    expect(refused.status).toBe(400);
    await stack.api.post(`/payment/add_funds/${user}/100`);
    const repeat = await stack.api.post(`/payment/pay/${user}/5`, keyed(key));
    expect({ status: repeat.status, body: repeat.body }).toEqual({ status: 400, body: refused.body });
    expect(await fx.credit(user)).toBe(103);
  });

  it("the same key with another request is a 422 that changes nothing: other parameters, another entity, another route", async () => {
    const [user, other] = [await fx.user(10), await fx.user(10)];
    const key = randomUUID();
    expect((await stack.api.post(`/payment/add_funds/${user}/5`, keyed(key))).status).toBe(200);
    for (const path of [`/payment/add_funds/${user}/6`, `/payment/add_funds/${other}/5`, `/payment/pay/${user}/5`, `/payment/pay/${other}/1`]) {
      const answer = await stack.api.post(path, keyed(key));
      expect(answer.status, path).toBe(422);
      expect(answer.body.error).toMatch(/Idempotency-Key was used for another request/);
    }
    expect([await fx.credit(user), await fx.credit(other)]).toEqual([15, 10]);
    const order = await fx.order(user, []);
    const item = await fx.item(1, 0);
    const orderKey = randomUUID();
    expect((await stack.api.post(`/orders/addItem/${order}/${item}/1`, keyed(orderKey))).status).toBe(200);
    expect((await stack.api.post(`/orders/addItem/${order}/${item}/2`, keyed(orderKey))).status).toBe(422);
    expect((await stack.api.post(`/orders/remove/${order}`, keyed(orderKey))).status).toBe(422);
    expect((await stack.api.get(`/orders/find/${order}`)).body.items).toEqual([[item, 1]]);
  });

  it("concurrent repeats apply once and all get the first answer", async () => {
    const user = await fx.user(0);
    const key = randomUUID();
    const answers = await Promise.all(Array.from({ length: 20 }, () => stack.api.post(`/payment/add_funds/${user}/7`, keyed(key))));
    expect(new Set(answers.map((a) => `${a.status} ${JSON.stringify(a.body)}`))).toEqual(new Set(['200 {"done":true}']));
    expect(await fx.credit(user)).toBe(7);
    const item = await fx.item(1, 5);
    const takes = await Promise.all(Array.from({ length: 20 }, () => stack.api.post(`/stock/subtract/${item}/1`, keyed(key))));
    expect(new Set(takes.map((a) => a.status))).toEqual(new Set([200]));
    expect(await fx.stock(item)).toBe(4);
  });

  it("is documented in OpenAPI on every route that takes it, with its 422", async () => {
    const keyedOps: string[] = [];
    for (const prefix of ["/orders", "/stock", "/payment"]) {
      type Op = { parameters?: Array<{ in: string; name: string }>; responses: Record<string, unknown> };
      const spec = (await (await fetch(`${stack.url}${prefix}/openapi.json`)).json()) as { paths: Record<string, Record<string, Op>> };
      for (const [path, ops] of Object.entries(spec.paths)) {
        for (const [method, op] of Object.entries(ops)) {
          const takesKey = (op.parameters ?? []).some((p) => p.in === "header" && p.name === "idempotency-key");
          if (takesKey) keyedOps.push(`${method.toUpperCase()} ${path}`);
          expect(takesKey, `${method} ${path}`).toBe("422" in op.responses);
        }
      }
    }
    expect(keyedOps.sort()).toEqual(
      [
        "POST /payment/create_user",
        "POST /payment/add_funds/{user_id}/{amount}",
        "POST /payment/pay/{user_id}/{amount}",
        "POST /payment/pay/{user_id}/{order_id}/{amount}",
        "POST /payment/cancel/{user_id}/{order_id}",
        "POST /stock/item/create/{price}",
        "POST /stock/add/{item_id}/{amount}",
        "POST /stock/subtract/{item_id}/{amount}",
        "POST /orders/create/{user_id}",
        "POST /orders/addItem/{order_id}/{item_id}/{quantity}",
        "POST /orders/addItem/{order_id}/{item_id}",
        "DELETE /orders/removeItem/{order_id}/{item_id}/{quantity}",
        "DELETE /orders/removeItem/{order_id}/{item_id}",
        "POST /orders/removeItem/{order_id}/{item_id}/{quantity}",
        "POST /orders/removeItem/{order_id}/{item_id}",
        "DELETE /orders/remove/{order_id}",
        "POST /orders/remove/{order_id}",
      ].sort(),
    );
  });

  it("checkout and batch_init refuse a malformed key too, though they need none", async () => {
    expect((await stack.api.post("/orders/checkout/nope", keyed(""))).status).toBe(400);
    expect((await stack.api.post("/stock/batch_init/1/1/1", keyed("a b"))).status).toBe(400);
  });

  it.each([
    ["empty", ""],
    ["256 characters", "k".repeat(256)],
    ["a space", "two words"],
    ["a control character", "a\tb"],
  ])("a malformed key (%s) is a 400 that changes nothing", async (_, key) => {
    const user = await fx.user(1);
    const answer = await stack.api.post(`/payment/add_funds/${user}/5`, keyed(key));
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatch(/Idempotency-Key must be 1-255 visible ASCII characters/);
    expect(await fx.credit(user)).toBe(1);
  });

  it("a key of 255 visible characters, quotes and braces included, is accepted", async () => {
    const user = await fx.user(1);
    const key = `"{${"~".repeat(251)}}"`;
    expect(key).toHaveLength(255);
    for (let i = 0; i < 2; i++) expect((await stack.api.post(`/payment/add_funds/${user}/5`, keyed(key))).status).toBe(200);
    expect(await fx.credit(user)).toBe(6);
  });
});

describe("Idempotency-Key expiry", () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ env: { IDEMPOTENCY_TTL_MS: "3000" } });
  });
  afterAll(() => stack?.teardown());

  it("once a key expired, the same request applies again; a creation's entity is kept as it is", async () => {
    const fx = shop(stack.api);
    const user = await fx.user(0);
    const key = randomUUID();
    await stack.api.post(`/payment/add_funds/${user}/5`, keyed(key));
    await stack.api.post(`/payment/add_funds/${user}/5`, keyed(key));
    expect(await fx.credit(user)).toBe(5);
    const created = await stack.api.post("/stock/item/create/2", keyed(key));
    const item = created.body.item_id as string;
    await stack.api.post(`/stock/add/${item}/9`);
    await sleep(3500);
    await stack.api.post(`/payment/add_funds/${user}/5`, keyed(key));
    expect(await fx.credit(user)).toBe(10);
    // The derived id again, and the item it names is not reset.
    expect((await stack.api.post("/stock/item/create/2", keyed(key))).body.item_id).toBe(item);
    expect(await fx.stock(item)).toBe(9);
  });
});
