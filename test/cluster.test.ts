// REDIS_MODE=cluster on real Redis Clusters (3 masters and 3 replicas per service, made by
// redis-cli --cluster create): checkouts stay all-or-nothing across slots and masters, and every
// answer agrees with the database through a master's SIGKILL and failover, slots moving between
// masters, and a new master taking slots, all while checkouts run.
import { spawn, spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { slotOf } from "../common/shards.js";
import { redisComponent, redisPasswords, type Component } from "../local/stack.js";
import { mapLimit, Progress } from "../tools/workload.js";
import { clusterNodes, metricSum, scrape, settled, shop, startTestStack, waitFor, type TestStack } from "./helpers.js";

let stack: TestStack;
let fx: ReturnType<typeof shop>;

beforeAll(async () => {
  stack = await startTestStack({
    redisMode: "cluster",
    shards: 3,
    replicas: 1,
    instances: 2,
    env: { CHECKOUT_LEASE_MS: "1000", RECOVERY_INTERVAL_MS: "200" },
  });
  fx = shop(stack.api);
});
afterAll(() => stack?.teardown());

// As the stack's admin user: the services' own users may not reshard or add nodes.
const adminEnv = () => ({ ...process.env, REDISCLI_AUTH: stack.redisAuth.password });
const cli = (...args: string[]) => spawnSync("redis-cli", ["--user", stack.redisAuth.username, ...args], { encoding: "utf8", env: adminEnv() });
/** redis-cli without blocking this process, so the checkouts' answers are read while it runs. */
const cliWhile = (...args: string[]) =>
  new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn("redis-cli", ["--user", stack.redisAuth.username, ...args], { env: adminEnv() });
    let [stdout, stderr] = ["", ""];
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });

/** The cluster's masters that are not failed, as `node` sees them. */
const masters = (node: Component) => clusterNodes(node.port, stack.redisAuth).filter((n) => n.flags.includes("master") && !n.flags.some((f) => f.includes("fail")));

const masterOf = (node: Component, id: string) => masters(node).find((m) => m.slots.some(([a, b]) => slotOf(id) >= a && slotOf(id) <= b))!.port;

/**
 * Waits until every master serving slots, in every service's cluster, has a replica online and in
 * sync (the master's own INFO says `state=online`), so that writes can be acknowledged by one
 * (REDIS_MIN_REPLICAS_ACKED=1): after a failover the promoted master has none until the old one
 * rejoins as its replica and has synced.
 */
async function replicated(): Promise<void> {
  const unreplicated = () =>
    (["order", "stock", "payment"] as const).flatMap((service) =>
      masters(stack.redis[service].find((c) => c.running)!)
        .filter((m) => m.slots.length > 0)
        .filter((m) => !/slave\d+:[^\n]*state=online/.test(cli("-p", String(m.port), "info", "replication").stdout))
        .map((m) => `${service} master ${m.port}`),
    );
  await waitFor("a replica online and in sync for every master", () => unreplicated().length === 0, 60_000, 200);
}

/**
 * Checks out every order, `concurrency` at a time, while `during` runs, then audits: each answer
 * agrees with the database by the public log rule (a 4xx only for an order left unpaid, anything
 * else only for a paid one), and stock and credit are conserved exactly.
 */
async function checkoutsWhile(during: (answered: (n: number) => Promise<void>) => Promise<void>): Promise<{ paid: number; refused: number }> {
  // The setup is not under test: it runs on a cluster that has healed from the last round's fault.
  await replicated();
  const items = await mapLimit(Array.from({ length: 12 }), 6, () => fx.item(1, 1000));
  const users = await mapLimit(Array.from({ length: 150 }), 10, () => fx.user(5));
  const orders = await mapLimit(users, 10, (user, i) => fx.order(user, [[items[i % 12]!, 1], [items[(i * 7 + 5) % 12]!, 2]]));
  // `during` may wait for the n-th answer: it resumes in the same turn, with the rest in flight.
  const progress = new Progress();
  const answers = mapLimit(orders, 8, async (order) => {
    const { status } = await stack.api.post(`/orders/checkout/${order}`);
    progress.update({ answered: progress.answered + 1 });
    return status;
  });
  await during((n) => progress.until(() => progress.answered >= n, `checkout ${n} answered`));
  const statuses = await answers;
  progress.end();
  await settled(stack);

  const paid = await mapLimit(orders, 10, (order) => fx.paid(order));
  const disagreeing = orders.filter((_, i) => (statuses[i]! >= 400 && statuses[i]! < 500) === paid[i]);
  expect(disagreeing, `answers ${JSON.stringify(statuses)}`).toEqual([]);
  const unitsSold = orders.reduce((n, _, i) => n + (paid[i] ? 3 : 0), 0);
  const stock = (await mapLimit(items, 6, (item) => fx.stock(item))).reduce((a, b) => a + b, 0);
  expect(12 * 1000 - stock).toBe(unitsSold);
  const credit = (await mapLimit(users, 10, (user) => fx.credit(user))).reduce((a, b) => a + b, 0);
  expect(150 * 5 - credit).toBe(unitsSold);
  return { paid: paid.filter(Boolean).length, refused: statuses.filter((s) => s >= 400 && s < 500).length };
}

describe("cluster mode", () => {
  it("takes a multi-item order's stock on every master or on none", async () => {
    const a = await fx.item(2, 5);
    let b = await fx.item(3, 0);
    while (masterOf(stack.redis.stock[0]!, b) === masterOf(stack.redis.stock[0]!, a)) b = await fx.item(3, 0);
    const user = await fx.user(100);
    const order = await fx.order(user, [[a, 1], [b, 1]]);

    expect((await stack.api.post(`/orders/checkout/${order}`)).status).toBe(400);
    expect([await fx.stock(a), await fx.stock(b), await fx.credit(user), await fx.paid(order)]).toEqual([5, 0, 100, false]);

    expect((await stack.api.post(`/stock/add/${b}/1`)).status).toBe(200);
    expect((await stack.api.post(`/orders/checkout/${order}`)).status).toBe(200);
    expect([await fx.stock(a), await fx.stock(b), await fx.credit(user), await fx.paid(order)]).toEqual([4, 0, 95, true]);
  });

  it("sweeps each master's slots for open checkouts with one script per group, none of them failing", async () => {
    // A failing script would be retried one slot at a time: correct, but 1024 calls for one.
    const order = stack.services.order[0]!;
    const calls = async () => metricSum(await scrape(order), "shardshop_redis_command_duration_seconds_count", { command: "pendingTransactions" });
    // A sweep makes a call per group at most (16 groups of 1024 slots): 33 calls span at least
    // one whole sweep, and a failing group, retried slot by slot, shows as an error.
    const before = await calls();
    await waitFor("a whole sweep", async () => (await calls()) >= before + 33);
    expect(metricSum(await scrape(order), "shardshop_redis_command_errors_total", { command: "pendingTransactions" })).toBe(0);
  });

  it("keeps every answer true when a master is killed with SIGKILL and its replica takes over", async () => {
    for (const service of ["stock", "order"] as const) {
      const victim = stack.redis[service].find((c) => c.running && masters(c).some((m) => m.port === c.port))!;
      const result = await checkoutsWhile(async (answered) => {
        await answered(16);
        await victim.stop("SIGKILL");
        // The replica is promoted: every slot is served again, by the masters that are left.
        const survivor = stack.redis[service].find((c) => c.running)!;
        const served = () => masters(survivor).filter((m) => m.port !== victim.port).flatMap((m) => m.slots).reduce((n, [a, b]) => n + b - a + 1, 0);
        await waitFor(`every slot served after ${service}'s master was killed`, () => served() === 16384, 60_000, 100);
        // Until the promoted master has a replica again, writes to its slots cannot be
        // acknowledged by one (REDIS_MIN_REPLICAS_ACKED=1) and wait: the old master comes back as
        // its replica, as a restarted container would.
        await victim.start();
      });
      expect(result.paid).toBeGreaterThan(0);
    }
  }, 120_000);

  it("keeps every answer true while a third of the slots move to another master", async () => {
    for (const service of ["stock", "payment", "order"] as const) {
      const node = stack.redis[service].find((c) => c.running)!;
      const [from, to] = masters(node);
      await checkoutsWhile(async () => {
        const moved = await cliWhile("--cluster", "reshard", `127.0.0.1:${node.port}`, "--cluster-from", from!.id, "--cluster-to", to!.id, "--cluster-slots", "5461", "--cluster-yes");
        expect(moved.status, moved.stdout + moved.stderr).toBe(0);
      });
    }
  }, 120_000);

  it("keeps every answer true while a new master joins and takes slots", async () => {
    const node = stack.redis.stock.find((c) => c.running)!;
    // A master and its replica, as a new master's writes need a replica to acknowledge them.
    const [added, replica] = [
      await redisComponent(stack.dataDir, "stock-redis-added", "cluster", { service: "stock", passwords: redisPasswords(stack.secrets, "stock") }),
      await redisComponent(stack.dataDir, "stock-redis-added-replica", "cluster", { service: "stock", passwords: redisPasswords(stack.secrets, "stock") }),
    ];
    await Promise.all([added.start(), replica.start()]);
    stack.redis.stock.push(added, replica);
    const joined = cli("--cluster", "add-node", `127.0.0.1:${added.port}`, `127.0.0.1:${node.port}`);
    expect(joined.status, joined.stdout + joined.stderr).toBe(0);
    // Known to the others, and knowing the slot map itself, before any slot moves to it.
    const known = () => masters(node).some((m) => m.port === added.port) && /cluster_state:ok/.test(cli("-p", String(added.port), "cluster", "info").stdout);
    await waitFor("the new master known to the cluster, and knowing the slot map", known, 30_000, 100);
    const newcomer = masters(node).find((m) => m.port === added.port)!;
    const follows = cli("--cluster", "add-node", `127.0.0.1:${replica.port}`, `127.0.0.1:${node.port}`, "--cluster-slave", "--cluster-master-id", newcomer.id);
    expect(follows.status, follows.stdout + follows.stderr).toBe(0);
    const synced = () => /master_link_status:up/.test(cli("-p", String(replica.port), "info", "replication").stdout);
    await waitFor("the new master's replica in sync", synced, 30_000, 100);
    await checkoutsWhile(async () => {
      const moved = await cliWhile("--cluster", "reshard", `127.0.0.1:${node.port}`, "--cluster-from", "all", "--cluster-to", newcomer.id, "--cluster-slots", "3000", "--cluster-yes");
      expect(moved.status, moved.stdout + moved.stderr).toBe(0);
    });
    expect(masters(node).find((m) => m.port === added.port)!.slots.length).toBeGreaterThan(0);
    // The stock service learns the new master from the slot map, and says so on /ready. (Not
    // always 4: a master the earlier reshard emptied of slots became a replica, as Redis 7 does.)
    const serving = masters(node).filter((m) => m.slots.length > 0).length;
    const ready = async () => (await fetch(`${stack.services.stock[0]!.url}/ready`)).json();
    await waitFor(`the stock service to report ${serving} masters`, async () => (await ready()).masters === serving, 30_000, 100);
    expect(await ready()).toMatchObject({ status: "ready", mode: "cluster", masters: serving });
  }, 120_000);
});
