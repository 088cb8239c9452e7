// A stack whose Redis shards require a password, with the services on a database other than 0:
// REDIS_PASSWORD and REDIS_DB reach every client, and the data lands where they say.
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { settled, shop, startTestStack, type TestStack } from "./helpers.js";

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({ shards: 2, env: { REDIS_PASSWORD: "s3cret-pass", REDIS_DB: "3" } });
});
afterAll(() => stack?.teardown());

describe("REDIS_PASSWORD and REDIS_DB", () => {
  it("serve a whole checkout, with every key in the chosen database", async () => {
    const fx = shop(stack.api);
    const item = await fx.item(2, 5);
    const user = await fx.user(10);
    const order = await fx.order(user, [[item, 1]]);
    expect((await stack.api.post(`/orders/checkout/${order}`)).status).toBe(200);
    expect([await fx.stock(item), await fx.credit(user), await fx.paid(order)]).toEqual([4, 8, true]);
    // Its record closes once the (batched) confirms were acknowledged.
    await settled(stack);

    const keyCount = async (db: number) => {
      let total = 0;
      for (const shard of stack.all().filter((c) => c.name.includes("redis"))) {
        const r = new Redis({ port: shard.port, password: "s3cret-pass", db, lazyConnect: true });
        total += await r.dbsize();
        r.disconnect();
      }
      return total;
    };
    expect(await keyCount(3)).toBeGreaterThanOrEqual(5); // item, user, order, its items, markers
    expect(await keyCount(0)).toBe(0);
  });

  it("are needed: a client without the password is refused", async () => {
    const r = new Redis({ port: stack.redis.stock[0]!.port, lazyConnect: true, maxRetriesPerRequest: 0 });
    r.on("error", () => {});
    await expect(r.dbsize()).rejects.toThrow(/NOAUTH/);
    r.disconnect();
  });
});
