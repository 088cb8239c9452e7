// The recovery sweep at start-up: with a single order instance, a checkout whose driver was killed
// is finished by that instance itself once it starts again, with no request needed.
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pendingCheckouts } from "../local/stack.js";
import { metricSum, scrape, settled, shop, startTestStack, type TestStack } from "./helpers.js";

let stack: TestStack;

beforeAll(async () => {
  // A long sweep interval: only the sweep at start-up can finish the checkout within the test.
  stack = await startTestStack({ env: { CHECKOUT_LEASE_MS: "500", RECOVERY_INTERVAL_MS: "300000" } });
});
afterAll(() => stack?.teardown());

describe("the recovery sweep at start-up", () => {
  it.each([
    { name: "rolls a transaction with both steps done forward", credit: 10, paid: true },
    { name: "rolls a refused one back", credit: 1, paid: false },
  ])("$name", async ({ credit, paid }) => {
    const fx = shop(stack.api);
    const item = await fx.item(2, 10);
    const user = await fx.user(credit);
    const order = await fx.order(user, [[item, 2]]);
    const [instance] = stack.services.order;
    instance!.env.FAULT_POINT = "after-steps";
    await instance!.stop();
    await instance!.start();
    const died = await fetch(`${instance!.url}/orders/checkout/${order}`, { method: "POST" }).then(() => false, () => true);
    expect(died).toBe(true);
    expect(await pendingCheckouts(stack)).toBe(1);

    delete instance!.env.FAULT_POINT;
    await sleep(600); // past the lease, so the sweep may take the transaction
    await instance!.start();
    await settled(stack);
    expect(metricSum(await scrape(instance!), "shardshop_checkout_recoveries_total")).toBe(1);
    expect(await fx.paid(order)).toBe(paid);
    expect([await fx.stock(item), await fx.credit(user)]).toEqual(paid ? [8, credit - 4] : [10, credit]);
  });
});
