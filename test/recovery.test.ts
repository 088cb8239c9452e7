// The recovery sweep at start-up: with a single order instance, a checkout whose driver was killed
// is finished by that instance itself once it starts again, with no request needed; also once the
// participants' window has closed, since they answer a try they applied however late it comes.
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pendingCheckouts } from "../local/stack.js";
import { metricSum, scrape, settled, shop, startTestStack, type TestStack } from "./helpers.js";

/** The shortest window any service accepts; the order service also needs it longer than STEP_TIMEOUT_MS + CHECKOUT_LEASE_MS, as it is here. */
const WINDOW_MS = 10_000;
// A long sweep interval: only the sweep at start-up can finish the checkout within the test.
const RECOVERY = { CHECKOUT_LEASE_MS: "500", RECOVERY_INTERVAL_MS: "300000" };

const cases = [
  { name: "rolls a transaction with both steps done forward", credit: 10, paid: true },
  { name: "rolls a refused one back", credit: 1, paid: false },
];

/** Kills the order instance right after a checkout's tries, restarts it `downMs` later, and checks what its sweep made of it. */
async function killedAfterSteps(stack: TestStack, { credit, paid }: (typeof cases)[number], downMs: number): Promise<void> {
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
  await sleep(downMs); // past the lease, so the sweep may take the transaction (and, given, past the window)
  await instance!.start();
  await settled(stack);
  expect(metricSum(await scrape(instance!), "shardshop_checkout_recoveries_total")).toBe(1);
  expect(await fx.paid(order)).toBe(paid);
  expect([await fx.stock(item), await fx.credit(user)]).toEqual(paid ? [8, credit - 4] : [10, credit]);
}

describe("the recovery sweep at start-up", () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ env: RECOVERY });
  });
  afterAll(() => stack?.teardown());

  it.each(cases)("$name", (c) => killedAfterSteps(stack, c, 600));
});

describe("the recovery sweep at start-up, once the window has closed", () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ env: { ...RECOVERY, TX_WINDOW_MS: String(WINDOW_MS), STEP_TIMEOUT_MS: "2000" } });
  });
  afterAll(() => stack?.teardown());

  // Each participant answers the try it applied as it did, so the checkout is decided as it would
  // have been in time, rather than rolled back because it is old.
  it.each(cases)("$name", (c) => killedAfterSteps(stack, c, WINDOW_MS + 1000), 60_000);
});
