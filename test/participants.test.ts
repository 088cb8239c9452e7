// The participants' side of the saga contract (common/saga.ts), on real stock and payment
// processes: steps are idempotent by transaction id, and a compensation is final, so a step that
// arrives after it (a late or replayed call from a driver that lost its lease) changes nothing.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sagaRoutes } from "../common/saga.js";
import { shardIndexOf } from "../common/shards.js";
import { shop, startTestStack, type TestStack } from "./helpers.js";

let stack: TestStack;
let fx: ReturnType<typeof shop>;

beforeAll(async () => {
  stack = await startTestStack({ shards: 2 });
  fx = shop(stack.api);
});
afterAll(() => stack?.teardown());

/** A call straight to a participant instance, as the order service makes it. */
async function step(service: "stock" | "payment", path: string, body: object): Promise<{ status: number; body: any }> {
  const res = await fetch(`${stack.services[service][0]!.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

const done = { status: 200, body: { status: "done" } };
const refused = (reason: string) => ({ status: 409, body: { status: "refused", reason } });

describe("stock", () => {
  it("reserves once per transaction, and refuses a reserve replayed after its release, on every shard", async () => {
    const a = await fx.item(1, 10);
    let b = await fx.item(1, 10);
    while (shardIndexOf(b, 2) === shardIndexOf(a, 2)) b = await fx.item(1, 10);
    const tx = { tx: randomUUID(), items: [[a, 3], [b, 2]] };
    expect(await step("stock", sagaRoutes.reserveStock, tx)).toEqual(done);
    expect(await step("stock", sagaRoutes.reserveStock, tx)).toEqual(done);
    expect([await fx.stock(a), await fx.stock(b)]).toEqual([7, 8]);

    expect(await step("stock", sagaRoutes.releaseStock, tx)).toEqual(done);
    expect(await step("stock", sagaRoutes.releaseStock, tx)).toEqual(done);
    expect([await fx.stock(a), await fx.stock(b)]).toEqual([10, 10]);
    expect(await step("stock", sagaRoutes.reserveStock, tx)).toEqual(refused("compensated"));
    expect([await fx.stock(a), await fx.stock(b)]).toEqual([10, 10]);
  });

  it("refuses a reserve that arrives after its release was already applied", async () => {
    const a = await fx.item(1, 10);
    const tx = { tx: randomUUID(), items: [[a, 4]] };
    expect(await step("stock", sagaRoutes.releaseStock, tx)).toEqual(done);
    expect(await step("stock", sagaRoutes.reserveStock, tx)).toEqual(refused("compensated"));
    expect(await fx.stock(a)).toBe(10);
  });

  it("keeps a refusal final: the same transaction never reserves later, even once stock is there", async () => {
    const a = await fx.item(1, 1);
    const tx = { tx: randomUUID(), items: [[a, 2]] };
    expect(await step("stock", sagaRoutes.reserveStock, tx)).toEqual(refused("insufficient_stock"));
    await stack.api.post(`/stock/add/${a}/5`);
    expect(await step("stock", sagaRoutes.reserveStock, tx)).toEqual(refused("insufficient_stock"));
    expect(await step("stock", sagaRoutes.releaseStock, tx)).toEqual(done);
    expect(await fx.stock(a)).toBe(6);
  });
});

describe("payment", () => {
  it("charges once per transaction, and refuses a charge replayed after its refund", async () => {
    const user = await fx.user(20);
    const charge = { tx: randomUUID(), user_id: user, amount: 7 };
    expect(await step("payment", sagaRoutes.chargeCredit, charge)).toEqual(done);
    expect(await step("payment", sagaRoutes.chargeCredit, charge)).toEqual(done);
    expect(await fx.credit(user)).toBe(13);

    const refund = { tx: charge.tx, user_id: user };
    expect(await step("payment", sagaRoutes.refundCredit, refund)).toEqual(done);
    expect(await step("payment", sagaRoutes.refundCredit, refund)).toEqual(done);
    expect(await fx.credit(user)).toBe(20);
    expect(await step("payment", sagaRoutes.chargeCredit, charge)).toEqual(refused("compensated"));
    expect(await fx.credit(user)).toBe(20);
  });

  it("refuses a charge that arrives after its refund was already applied", async () => {
    const user = await fx.user(20);
    const tx = randomUUID();
    expect(await step("payment", sagaRoutes.refundCredit, { tx, user_id: user })).toEqual(done);
    expect(await step("payment", sagaRoutes.chargeCredit, { tx, user_id: user, amount: 5 })).toEqual(refused("compensated"));
    expect(await fx.credit(user)).toBe(20);
  });

  it("refuses internal calls that came through a proxy", async () => {
    const user = await fx.user(20);
    for (const path of [sagaRoutes.chargeCredit, sagaRoutes.refundCredit]) {
      const res = await fetch(`${stack.services.payment[0]!.url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-forwarded-for": "203.0.113.9" },
        body: JSON.stringify({ tx: randomUUID(), user_id: user, amount: 5 }),
      });
      expect(res.status, path).toBe(404);
    }
    expect(await fx.credit(user)).toBe(20);
  });
});
