// The order service's circuit breakers and its bound on checkouts in flight, on real processes.
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkoutBegun, metricSum, PROTOCOL, scrape, settled, shop, startTestStack, waitFor, type TestStack } from "./helpers.js";
import { mapLimit } from "../tools/workload.js";
import { phaseName } from "../orchestrator/protocol.js";

let stack: TestStack;
let fx: ReturnType<typeof shop>;

beforeAll(async () => {
  stack = await startTestStack({
    env: {
      BREAKER_FAILURES: "3",
      // Longer than the test takes to fail its checkouts, however slow the machine: the "circuit
      // open" answers below must come while the breaker is still open, not after a probe.
      BREAKER_HALF_OPEN_MS: "5000",
      MAX_INFLIGHT_CHECKOUTS: "2",
      // A stalled participant (SIGSTOP below) must not time a step out before the test resumes it.
      STEP_TIMEOUT_MS: "20000",
      // Checkouts left open by a test are finished within it (see settled), not during the next one.
      CHECKOUT_LEASE_MS: "1000",
      RECOVERY_INTERVAL_MS: "200",
    },
  });
  fx = shop(stack.api);
});
afterAll(() => stack?.teardown());

const orderMetrics = () => scrape(stack.services.order[0]!);

const breaker = async (participant: string) => metricSum(await orderMetrics(), "shardshop_circuit_breaker_state", { participant });
const charges = async () => metricSum(await orderMetrics(), "shardshop_saga_step_duration_seconds_count", { participant: "payment", step: phaseName(PROTOCOL, "try") });

describe("circuit breaker", () => {
  it("opens while stock is down, fails checkouts fast taking nothing, and closes when stock returns", async () => {
    // The public consistency test's shape: one item of price 1, one unit per order, users of credit 1.
    const item = await fx.item(1, 20);
    const users = await mapLimit(Array.from({ length: 30 }), 10, () => fx.user(1));
    const orders = await mapLimit(users, 10, (user) => fx.order(user, [[item, 1]]));
    const statuses: number[] = [];
    const checkout = async (order: string) => {
      const res = await stack.api.post(`/orders/checkout/${order}`);
      statuses.push(res.status);
      return res;
    };

    for (const order of orders.slice(0, 5)) expect((await checkout(order)).status).toBe(200);
    await Promise.all(stack.services.stock.map((c) => c.stop("SIGKILL")));

    // Failing calls open the breaker...
    for (let i = 5; i < 10; i++) expect((await checkout(orders[i]!)).status).toBe(424);
    expect(await breaker("stock")).toBe(1);
    // ...and from then on a checkout is refused before anything is written or charged.
    const chargesBefore = await charges();
    const fast = await checkout(orders[10]!);
    expect(fast.status).toBe(424);
    expect(fast.body.error).toMatch(/stock service is unavailable \(circuit open\)/);
    expect(Number(fast.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    expect(await charges()).toBe(chargesBefore);
    expect((await stack.api.get(`/orders/find/${orders[10]}`)).body.paid).toBe(false);

    await Promise.all(stack.services.stock.map((c) => c.start()));
    // Reads skip the breaker: while it is still open, an order can be made (adding an item reads
    // its price from stock), though its checkout would be refused.
    const made = await fx.order(users[0]!, [[item, 1]]);
    expect((await stack.api.get(`/orders/find/${made}`)).body.total_cost).toBe(1);
    expect(await breaker("stock")).toBe(1);
    // After its half-open delay the breaker lets one probe through; it succeeds and closes it.
    const status = await waitFor("a checkout answered other than 424 (the probe let through)", async () => {
      const { status } = await checkout(orders[11]!);
      return status !== 424 && status;
    }, 20_000, 100);
    expect(status).toBe(200);
    expect(await breaker("stock")).toBe(0);
    for (const order of orders.slice(12)) await checkout(order);

    // The public test's figures: what the answers say was sold equals what the database says.
    const succeeded = statuses.filter((s) => s === 200).length;
    const stockLeft = await fx.stock(item);
    const credits = await mapLimit(users, 10, (u) => fx.credit(u));
    const paid = await mapLimit(orders, 10, async (o) => (await stack.api.get(`/orders/find/${o}`)).body.paid as boolean);
    expect(20 - stockLeft).toBe(succeeded);
    expect(users.length - credits.reduce((a, b) => a + b, 0)).toBe(succeeded);
    expect(paid.filter(Boolean).length).toBe(succeeded);
    expect(Math.min(stockLeft, ...credits)).toBeGreaterThanOrEqual(0);
    expect(succeeded).toBe(20); // every unit sold once stock was back
    // The checkouts rolled back while stock was down left their release to recovery: let it run
    // now, so that nothing of this test happens during the next.
    await settled(stack);
  });
});

describe("backpressure", () => {
  it("answers 429 with Retry-After beyond the in-flight bound, and takes nothing for it", async () => {
    const item = await fx.item(1, 100);
    const user = await fx.user(100);
    const orders = await mapLimit(Array.from({ length: 10 }), 5, () => fx.order(user, [[item, 1]]));
    const [stockProcess] = stack.services.stock;
    // A stalled participant keeps the first two checkouts in flight.
    stockProcess!.proc!.kill("SIGSTOP");
    let answers: Array<{ status: number; headers: Record<string, string | string[] | undefined> }>;
    try {
      const slow = orders.slice(0, 2).map((o) => stack.api.post(`/orders/checkout/${o}`));
      const inFlight = async () => metricSum(await orderMetrics(), "shardshop_checkouts_in_flight");
      await waitFor("two checkouts in flight", async () => (await inFlight()) >= 2, 10_000, 20);
      expect(await inFlight()).toBe(2);
      answers = await Promise.all(orders.slice(2).map((o) => stack.api.post(`/orders/checkout/${o}`)));
      stockProcess!.proc!.kill("SIGCONT");
      answers.push(...(await Promise.all(slow)));
    } finally {
      stockProcess!.proc!.kill("SIGCONT");
    }
    const rejected = answers.filter((a) => a.status === 429);
    expect(rejected.length).toBe(8);
    for (const r of rejected) expect(r.headers["retry-after"]).toBe("1");
    expect(answers.filter((a) => a.status === 200).length).toBe(2);
    expect(metricSum(await orderMetrics(), "shardshop_checkout_duration_seconds_count", { outcome: "rejected", reason: "overloaded" })).toBe(8);
    expect(await fx.stock(item)).toBe(98);
    expect(await fx.credit(user)).toBe(98);
    // A refused checkout left its order untouched: it can be checked out now.
    expect((await stack.api.post(`/orders/checkout/${orders[5]}`)).status).toBe(200);
  });
});

describe("an order being checked out", () => {
  it("cannot be changed or removed (409) until its checkout ends", async () => {
    const item = await fx.item(2, 10);
    const user = await fx.user(50);
    const order = await fx.order(user, [[item, 1]]);
    // Payment stalls the checkout; stock still answers, since adding an item reads its price.
    const [paymentProcess] = stack.services.payment;
    const orderShard = new Redis({ port: stack.redis.order[0]!.port, ...stack.redisAuth, lazyConnect: true });
    paymentProcess!.proc!.kill("SIGSTOP");
    try {
      const checkout = stack.api.post(`/orders/checkout/${order}`);
      // The transaction record is written before any participant is called.
      await checkoutBegun(orderShard, order);
      for (const change of [
        stack.api.post(`/orders/addItem/${order}/${item}`),
        stack.api.post(`/orders/removeItem/${order}/${item}`),
        stack.api.delete(`/orders/remove/${order}`),
      ]) {
        const answer = await change;
        expect(answer.status).toBe(409);
        expect(answer.body.error).toBe("order is being checked out and cannot change");
      }
      paymentProcess!.proc!.kill("SIGCONT");
      expect((await checkout).status).toBe(200);
    } finally {
      paymentProcess!.proc!.kill("SIGCONT");
      orderShard.disconnect();
    }
    expect((await stack.api.get(`/orders/find/${order}`)).body).toMatchObject({ paid: true, total_cost: 2, items: [[item, 1]] });
  });
});
