// One client's input never decides another's outcome, through the gateway: an order that no
// participant would take is refused before anything is written (at addItem, or at checkout for
// an order built before the limit), an order whose part a participant's schema rejects aborts
// before anything is sent, and either stays usable at once; valid checkouts beside hostile ones
// all commit.
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_ORDER_LINES } from "../common/contract.js";
import { phaseName } from "@shardshop/orchestrator";
import { client, metricSum, PROTOCOL, scrape, shop, startTestStack, type TestStack } from "./helpers.js";

let stack: TestStack;
let fx: ReturnType<typeof shop>;
let orders: Redis;

/** Items "0".."n-1" of a batch_init: `stock` units each at price 1. */
const ITEMS = MAX_ORDER_LINES + 1;
const STOCK = 10;

beforeAll(async () => {
  stack = await startTestStack({ shards: 1, instances: 1 });
  fx = shop(stack.api);
  orders = new Redis({ port: stack.redis.order[0]!.port, ...stack.redisAuth });
  expect((await stack.api.post(`/stock/batch_init/${ITEMS}/${STOCK}/1`)).status).toBe(200);
});
afterAll(async () => {
  orders?.disconnect();
  await stack?.teardown();
});

/** An order of `lines` written straight into its Redis, as an order built before the line limit would be. */
async function legacyOrder(user: string, lines: Array<[string, number]>): Promise<string> {
  const order = (await stack.api.post(`/orders/create/${user}`)).body.order_id as string;
  await orders.hset(`order:{${order}}:items`, Object.fromEntries(lines.map(([item, qty]) => [item, `${qty}:1`])));
  await orders.hset(`order:{${order}}`, "total_cost", lines.reduce((sum, [, qty]) => sum + qty, 0));
  return order;
}

const lines = (n: number, from = 0): Array<[string, number]> => Array.from({ length: n }, (_, i) => [String(from + i), 1]);

/** Whether the order has no transaction open: it can change, and nothing waits on it. */
async function free(order: string): Promise<boolean> {
  return (await orders.hget(`order:{${order}}`, "tx")) === null && (await orders.zscore("checkouts:pending", order)) === null;
}

describe("bounded orders", () => {
  it(`lets an order grow to ${MAX_ORDER_LINES} lines, refuses one more with a 400 that says why, and checks the full order out`, async () => {
    const user = await fx.user(10_000);
    const order = (await stack.api.post(`/orders/create/${user}`)).body.order_id as string;
    const wide = client(stack.url, 32);
    try {
      for (let i = 0; i < MAX_ORDER_LINES; i += 100) {
        const replies = await Promise.all(lines(100, i).map(([item]) => wide.post(`/orders/addItem/${order}/${item}`)));
        expect(replies.map((r) => r.status)).toEqual(Array(100).fill(200));
      }
    } finally {
      await wide.close();
    }
    const over = await stack.api.post(`/orders/addItem/${order}/${MAX_ORDER_LINES}`);
    expect(over.status).toBe(400);
    expect(over.body.error).toMatch(new RegExp(`at most ${MAX_ORDER_LINES} distinct items`));
    // More of a line it holds is not a new line.
    expect((await stack.api.post(`/orders/addItem/${order}/0/2`)).status).toBe(200);

    expect((await stack.api.post(`/orders/checkout/${order}`)).status).toBe(200);
    expect(await fx.credit(user)).toBe(10_000 - MAX_ORDER_LINES - 2);
    expect(await fx.stock("0")).toBe(STOCK - 3);
    expect(await fx.stock("999")).toBe(STOCK - 1);
    expect(await fx.stock(String(MAX_ORDER_LINES))).toBe(STOCK);
  });

  it("refuses the checkout of an order built before the limit, writing nothing, and the order stays usable", async () => {
    const user = await fx.user(10_000);
    const order = await legacyOrder(user, lines(MAX_ORDER_LINES + 1));
    const before = await fx.stock("5");
    const refused = await stack.api.post(`/orders/checkout/${order}`);
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatch(/more than 1000 distinct items/);
    expect(await free(order)).toBe(true);
    expect((await stack.api.post(`/orders/removeItem/${order}/${MAX_ORDER_LINES}`)).status).toBe(200);
    expect((await stack.api.post(`/orders/checkout/${order}`)).status).toBe(200);
    expect(await fx.stock("5")).toBe(before - 1);
    expect(await fx.credit(user)).toBe(10_000 - MAX_ORDER_LINES);
  });

  it("aborts an order whose part stock's schema rejects before anything is sent, and the order is usable again at once", async () => {
    const user = await fx.user(100);
    // A line of 0 units: no order route writes one, and stock takes only 1 or more.
    const order = await legacyOrder(user, [["1", 1], ["2", 0]]);
    const before = [await fx.stock("1"), await fx.stock("2")];
    const tries = { participant: "stock", step: phaseName(PROTOCOL, "try") };
    const stockCalls = async () => metricSum(await scrape(stack.services.order[0]!), "shardshop_saga_step_duration_seconds_count", tries);
    const callsBefore = await stockCalls();
    const refused = await stack.api.post(`/orders/checkout/${order}`);
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatch(/rejects the order/);
    expect(await stockCalls()).toBe(callsBefore);
    expect(await free(order)).toBe(true);
    expect([await fx.stock("1"), await fx.stock("2")]).toEqual(before);
    expect(await fx.credit(user)).toBe(100);
    expect((await stack.api.post(`/orders/removeItem/${order}/2`)).status).toBe(200);
    expect((await stack.api.post(`/orders/checkout/${order}`)).status).toBe(200);
    expect(await fx.credit(user)).toBe(99);
  });

  it("commits every valid checkout sent beside hostile ones, and refuses each hostile one with a 4xx that says why", async () => {
    const users = await Promise.all(Array.from({ length: 64 }, () => fx.user(10)));
    const valid = await Promise.all(users.map((u, i) => fx.order(u, [[String(100 + i), 1], [String(200 + i), 2]])));
    const hostile = [
      await legacyOrder(await fx.user(10_000), lines(MAX_ORDER_LINES + 1)),
      await legacyOrder(await fx.user(10_000), lines(MAX_ORDER_LINES + 1)),
      await legacyOrder(await fx.user(10_000), [["300", 0]]),
    ];
    const stockBefore = await Promise.all(Array.from({ length: 64 }, (_, i) => Promise.all([fx.stock(String(100 + i)), fx.stock(String(200 + i))])));
    const wide = client(stack.url, 80);
    const replies = await Promise.all([...hostile, ...valid].map((o) => wide.post(`/orders/checkout/${o}`))).finally(() => wide.close());
    expect(replies.slice(0, 3).map((r) => r.status)).toEqual([400, 400, 400]);
    expect(replies.slice(0, 3).map((r) => r.body.error)).toEqual([expect.stringMatching(/more than/), expect.stringMatching(/more than/), expect.stringMatching(/rejects/)]);
    expect(replies.slice(3).map((r) => r.status)).toEqual(Array(64).fill(200));
    expect(await Promise.all(users.map(fx.credit))).toEqual(Array(64).fill(7));
    const stockAfter = await Promise.all(Array.from({ length: 64 }, (_, i) => Promise.all([fx.stock(String(100 + i)), fx.stock(String(200 + i))])));
    expect(stockAfter).toEqual(stockBefore.map(([a, b]) => [a! - 1, b! - 2]));
    for (const order of hostile) expect(await free(order)).toBe(true);
  });
});
