// The checkout saga under contention and partial failure, on three shards per service with two
// instances of each service behind the gateway.
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { shardIndexOf } from "../common/shards.js";
import { client, metricSum, PROTOCOL, scrape, shop, startTestStack, waitFor, type TestStack } from "./helpers.js";
import { phaseRoute } from "@shardshop/orchestrator/http";

let stack: TestStack;
let fx: ReturnType<typeof shop>;

beforeAll(async () => {
  stack = await startTestStack({ shards: 3, instances: 2 });
  fx = shop(stack.api);
});
afterAll(() => stack?.teardown());

/** Ids "0".."n-1" of a batch_init, one per stock shard. */
function oneIdPerShard(n: number): string[] {
  const ids: string[] = [];
  for (let i = 0; ids.length < 3 && i < n; i++) {
    if (ids.every((id) => shardIndexOf(id, 3) !== shardIndexOf(String(i), 3))) ids.push(String(i));
  }
  return ids;
}

describe("checkout", () => {
  it("lets exactly one of 100 concurrent checkouts take the last unit", async () => {
    const item = await fx.item(3, 1);
    const users = await Promise.all(Array.from({ length: 100 }, () => fx.user(10)));
    const orders = await Promise.all(users.map((u) => fx.order(u, [[item, 1]])));
    // One connection per checkout, so all 100 are on the wire at once.
    const wide = client(stack.url, 100);
    const replies = await Promise.all(orders.map((o) => wide.post(`/orders/checkout/${o}`))).finally(() => wide.close());
    const statuses = replies.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 400)).toHaveLength(99);
    expect(replies.filter((r) => r.status === 400).every((r) => /not enough stock/.test(r.body.error))).toBe(true);
    expect(await fx.stock(item)).toBe(0);
    const credits = await Promise.all(users.map(fx.credit));
    expect(credits.filter((c) => c === 7)).toHaveLength(1);
    expect(credits.filter((c) => c === 10)).toHaveLength(99);
    const winner = orders[statuses.indexOf(200)]!;
    const paid = await Promise.all(orders.map(fx.paid));
    expect(paid.filter(Boolean)).toHaveLength(1);
    expect(await fx.paid(winner)).toBe(true);
  });

  it("runs concurrent and repeated checkouts of one order as one transaction", async () => {
    const user = await fx.user(100);
    const item = await fx.item(7, 50);
    const order = await fx.order(user, [[item, 2]]);
    // Through the gateway and straight at both order instances at once.
    const targets = [stack.api, ...stack.services.order.map((c) => client(c.url))];
    const replies = await Promise.all(Array.from({ length: 30 }, (_, i) => targets[i % 3]!.post(`/orders/checkout/${order}`)));
    expect(replies.map((r) => r.status)).toEqual(Array(30).fill(200));
    expect((await stack.api.post(`/orders/checkout/${order}`)).status).toBe(200);
    expect(await fx.credit(user)).toBe(86);
    expect(await fx.stock(item)).toBe(48);
  });

  it("gives every concurrent caller of a failing checkout the same 4xx", async () => {
    const user = await fx.user(1);
    const item = await fx.item(7, 50);
    const order = await fx.order(user, [[item, 1]]);
    const wide = client(stack.url, 20);
    const replies = await Promise.all(Array.from({ length: 20 }, () => wide.post(`/orders/checkout/${order}`))).finally(() => wide.close());
    expect(replies.map((r) => r.status)).toEqual(Array(20).fill(400));
    expect(replies.every((r) => /credit/.test(r.body.error))).toBe(true);
    expect(await fx.credit(user)).toBe(1);
    expect(await fx.stock(item)).toBe(50);
    expect(await fx.paid(order)).toBe(false);
  });

  it("is all-or-nothing across stock shards", async () => {
    expect((await stack.api.post("/stock/batch_init/100/10/1")).status).toBe(200);
    const [a, b, c] = oneIdPerShard(100);
    expect(new Set([a, b, c].map((id) => shardIndexOf(id!, 3))).size).toBe(3);
    const user = await fx.user(100);

    // The third shard's item runs short: the units taken on the other two are given back.
    const short = await fx.order(user, [[a!, 5], [b!, 5], [c!, 11]]);
    const failed = await stack.api.post(`/orders/checkout/${short}`);
    expect(failed.status).toBe(400);
    expect(failed.body.error).toMatch(/stock/);
    expect([await fx.stock(a!), await fx.stock(b!), await fx.stock(c!)]).toEqual([10, 10, 10]);
    expect(await fx.credit(user)).toBe(100);

    const fits = await fx.order(user, [[a!, 5], [b!, 5], [c!, 10]]);
    expect((await stack.api.post(`/orders/checkout/${fits}`)).status).toBe(200);
    expect([await fx.stock(a!), await fx.stock(b!), await fx.stock(c!)]).toEqual([5, 5, 0]);
    expect(await fx.credit(user)).toBe(80);
  });

  it("stores batch_init ids on the shard the routing names", async () => {
    expect((await stack.api.post("/stock/batch_init/60/5/2")).status).toBe(200);
    expect((await stack.api.post("/payment/batch_init/60/5")).status).toBe(200);
    expect((await stack.api.post("/orders/batch_init/60/60/60/2")).status).toBe(200);
    const keyOf = { stock: (id: string) => `item:{${id}}`, payment: (id: string) => `user:{${id}}`, order: (id: string) => `order:{${id}}` };
    for (const service of ["stock", "payment", "order"] as const) {
      const shards = stack.redis[service].map((c) => new Redis({ port: c.port, ...stack.redisAuth, lazyConnect: true }));
      try {
        for (let i = 0; i < 60; i++) {
          const id = String(i);
          const where = await Promise.all(shards.map((r) => r.exists(keyOf[service](id))));
          expect(where, `${service} ${id}`).toEqual(shards.map((_, s) => (s === shardIndexOf(id, 3) ? 1 : 0)));
        }
        const counts = await Promise.all(shards.map((r) => r.dbsize()));
        expect(counts.every((n) => n > 0)).toBe(true);
      } finally {
        shards.forEach((r) => r.disconnect());
      }
    }
    for (let i = 0; i < 60; i += 7) expect((await stack.api.get(`/orders/find/${i}`)).status).toBe(200);
  });

  /** Checks out until an answer other than 424 (participant unavailable, or its breaker open). */
  function checkoutOnceBack(order: string): Promise<number> {
    return waitFor("a checkout answered other than 424 (participant back, breaker closed)", async () => {
      const { status } = await stack.api.post(`/orders/checkout/${order}`);
      return status !== 424 && status;
    }, 15_000, 100);
  }

  it("balances saga steps over every instance of each participant (a comma list of URLs)", async () => {
    const steps = async () =>
      Promise.all([
        ...stack.services.stock.map(async (c) => metricSum(await scrape(c), "shardshop_http_request_duration_seconds_count", { route: phaseRoute("stock", PROTOCOL, "try") })),
        ...stack.services.payment.map(async (c) => metricSum(await scrape(c), "shardshop_http_request_duration_seconds_count", { route: phaseRoute("payment", PROTOCOL, "try") })),
      ]);
    const item = await fx.item(1, 100);
    // Orders first: creating them reads from the same pools, which would interleave with the steps.
    const orders: string[] = [];
    for (let i = 0; i < 20; i++) orders.push(await fx.order(await fx.user(5), [[item, 1]]));
    const before = await steps();
    for (const order of orders) expect((await stack.api.post(`/orders/checkout/${order}`)).status).toBe(200);
    const served = (await steps()).map((n, i) => n - before[i]!);
    expect(served[0]! + served[1]!).toBe(20);
    expect(served[2]! + served[3]!).toBe(20);
    for (const n of served) expect(n).toBeGreaterThanOrEqual(5);
  });

  it("rolls back with a 4xx when a participant is down, and succeeds once it is back", async () => {
    const user = await fx.user(20);
    const item = await fx.item(5, 10);
    const order = await fx.order(user, [[item, 2]]);

    await Promise.all(stack.services.payment.map((c) => c.stop("SIGKILL")));
    const down = await stack.api.post(`/orders/checkout/${order}`);
    expect(down.status).toBe(424);
    expect(await fx.stock(item)).toBe(10); // the reserved units were released
    expect(await fx.paid(order)).toBe(false);
    await Promise.all(stack.services.payment.map((c) => c.start()));
    expect(await fx.credit(user)).toBe(20);
    // The order service's breaker for payment may still be open: it fails fast until a probe passes.
    expect(await checkoutOnceBack(order)).toBe(200);
    expect([await fx.stock(item), await fx.credit(user)]).toEqual([8, 10]);

    // Stock down: the charge is refunded, and nothing is left held once stock is back.
    const second = await fx.order(user, [[item, 1]]);
    await Promise.all(stack.services.stock.map((c) => c.stop("SIGKILL")));
    expect((await stack.api.post(`/orders/checkout/${second}`)).status).toBe(424);
    expect(await fx.credit(user)).toBe(10);
    await Promise.all(stack.services.stock.map((c) => c.start()));
    expect(await checkoutOnceBack(second)).toBe(200);
    expect([await fx.stock(item), await fx.credit(user)]).toEqual([7, 5]);
  });
});
