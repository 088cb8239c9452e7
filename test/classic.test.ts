// The three correctness tests of the public benchmark, through the gateway, on one shard with one
// instance per service and on three shards with two instances per service.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { shop, startTestStack, type TestStack } from "./helpers.js";

describe.each([
  { shards: 1, instances: 1 },
  { shards: 3, instances: 2 },
])("classic benchmark tests, $shards shard(s) x $instances instance(s)", (layout) => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack(layout);
  });
  afterAll(() => stack?.teardown());

  it("stock", async () => {
    const { api } = stack;
    const item = (await api.post("/stock/item/create/5")).body.item_id;
    expect(item).toBeTypeOf("string");
    expect((await api.get(`/stock/find/${item}`)).body).toEqual({ stock: 0, price: 5 });
    expect((await api.post(`/stock/add/${item}/50`)).status).toBe(200);
    expect((await api.get(`/stock/find/${item}`)).body.stock).toBe(50);
    expect((await api.post(`/stock/subtract/${item}/200`)).status).toBe(400);
    expect((await api.get(`/stock/find/${item}`)).body.stock).toBe(50);
    expect((await api.post(`/stock/subtract/${item}/15`)).status).toBe(200);
    expect((await api.get(`/stock/find/${item}`)).body.stock).toBe(35);
  });

  it("payment", async () => {
    const { api } = stack;
    const user = (await api.post("/payment/create_user")).body.user_id;
    expect((await api.post(`/payment/add_funds/${user}/15`)).body).toEqual({ done: true });
    expect((await api.get(`/payment/find_user/${user}`)).body.credit).toBe(15);
    expect((await api.post(`/payment/pay/${user}/10`)).status).toBe(200);
    expect((await api.get(`/payment/find_user/${user}`)).body.credit).toBe(5);
  });

  it("order", async () => {
    const { api } = stack;
    const fx = shop(api);
    const user = await fx.user(0);
    const order = (await api.post(`/orders/create/${user}`)).body.order_id;
    const item1 = await fx.item(5, 15);
    const item2 = await fx.item(5, 1);
    expect((await api.post(`/orders/addItem/${order}/${item1}/1`)).status).toBe(200);
    expect((await api.post(`/orders/addItem/${order}/${item2}/1`)).status).toBe(200);
    expect((await api.post(`/stock/subtract/${item2}/1`)).status).toBe(200);

    // Out of stock for item 2: fails, and item 1's stock is untouched.
    expect((await api.post(`/orders/checkout/${order}`)).status).toBe(400);
    expect(await fx.stock(item1)).toBe(15);

    // Stock is back, but the user has no credit: fails again, nothing taken.
    expect((await api.post(`/stock/add/${item2}/15`)).status).toBe(200);
    expect(await fx.credit(user)).toBe(0);
    expect((await api.post(`/orders/checkout/${order}`)).status).toBe(400);
    expect(await fx.stock(item1)).toBe(15);

    expect((await api.post(`/payment/add_funds/${user}/15`)).status).toBe(200);
    expect(await fx.credit(user)).toBe(15);
    expect((await api.post(`/orders/checkout/${order}`)).status).toBe(200);
    expect(await fx.stock(item1)).toBe(14);
    expect(await fx.credit(user)).toBe(5);
    expect(await fx.paid(order)).toBe(true);
  });
});
