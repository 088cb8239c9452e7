// An order process killed with SIGKILL at each step of the checkout saga; another instance then
// finishes the checkout, either for a retried request or by its recovery sweep. Whatever the
// point, stock and credit are conserved exactly and the order is paid if and only if both were
// taken.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FAULT_POINTS } from "../order/checkout.js";
import { shardIndexOf } from "../common/shards.js";
import { client, metricSum, scrape, settled, shop, startTestStack, type TestStack } from "./helpers.js";

let stack: TestStack;
let fx: ReturnType<typeof shop>;

beforeAll(async () => {
  stack = await startTestStack({
    shards: 3,
    instances: 2,
    env: { CHECKOUT_LEASE_MS: "1000", RECOVERY_INTERVAL_MS: "200" },
  });
  fx = shop(stack.api);
});
afterAll(() => stack?.teardown());


/** Two new items of price 3 on different stock shards, so the kill also lands between shards' parts. */
async function twoItems(): Promise<[string, string]> {
  const a = await fx.item(3, 1000);
  let b = await fx.item(3, 1000);
  while (shardIndexOf(b, 3) === shardIndexOf(a, 3)) b = await fx.item(3, 1000);
  return [a, b];
}

/**
 * Only the survivor can finish a checkout while the victim is down. It sweeps every 200 ms when the
 * sweep is to finish it, and never (but at start-up) when a retried request is to: so each case
 * proves which path finished it. Restarted only when the path changes.
 */
let sweeping: boolean | undefined;
async function survivorSweeps(sweep: boolean): Promise<void> {
  if (sweeping === sweep) return;
  const survivor = stack.services.order[1]!;
  survivor.env.RECOVERY_INTERVAL_MS = sweep ? "200" : "300000";
  await survivor.stop();
  await survivor.start();
  sweeping = sweep;
}

const scenarios = [
  { name: "enough credit", credit: 100, commits: true },
  { name: "too little credit", credit: 5, commits: false },
];

describe.each(["a retried request", "the recovery sweep"].flatMap((finisher) =>
  FAULT_POINTS.flatMap((point) => scenarios.map((s) => ({ point, ...s, finisher }))),
))("killed $point, $name, finished by $finisher", ({ point, credit, commits, finisher }) => {
  it("conserves stock and credit exactly", async () => {
    await survivorSweeps(finisher === "the recovery sweep");
    const victim = stack.services.order[0]!;
    victim.env.FAULT_POINT = point;
    await victim.stop("SIGKILL");
    await victim.start();

    const user = await fx.user(credit);
    const [a, b] = await twoItems();
    const before = { a: await fx.stock(a), b: await fx.stock(b) };
    const order = await fx.order(user, [[a, 2], [b, 1]]); // total 9
    const survivor = stack.services.order[1]!;
    const recoveries = async () => metricSum(await scrape(survivor), "shardshop_checkout_recoveries_total");
    const recoveredBefore = await recoveries();

    const crashed = await fetch(`${victim.url}/orders/checkout/${order}`, { method: "POST" }).then(
      (r) => `answered ${r.status}`,
      () => "crashed",
    );
    expect(crashed).toBe("crashed");

    if (finisher === "a retried request") {
      // Past the victim's lease: a retry before it would wait for it (or, once committed, answer
      // at once and leave the confirms to whoever comes after the lease).
      await new Promise((r) => setTimeout(r, 1100));
      const retried = await client(survivor.url).post(`/orders/checkout/${order}`);
      expect(retried.status).toBe(commits ? 200 : 400);
    }
    await settled(stack);
    // Only the survivor can finish it while the victim is down: its sweep did or, when it does not
    // sweep, the retried request did. Even a victim that died after its commit left the confirms.
    const swept = finisher === "the recovery sweep" ? 1 : 0;
    expect(await recoveries()).toBe(recoveredBefore + swept);

    const paid = await fx.paid(order);
    expect(paid).toBe(commits);
    expect(await fx.credit(user)).toBe(paid ? credit - 9 : credit);
    expect(await fx.stock(a)).toBe(paid ? before.a - 2 : before.a);
    expect(await fx.stock(b)).toBe(paid ? before.b - 1 : before.b);
    // The order answers consistently afterwards.
    expect((await stack.api.post(`/orders/checkout/${order}`)).status).toBe(commits ? 200 : 400);
  });
});
