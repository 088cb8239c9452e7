// `npm run chaos [-- options]`: checkouts against a local stack (several shards, two instances per
// service) while, every so many checkouts, a random component - any service instance or any Redis
// shard - is killed with SIGKILL and restarted after a short delay. At the end it waits for
// recovery and verifies the four figures, the strict ledger, and the public log rule: every answer
// that is not a 4xx counts as a success, so each must belong to an order that ends paid.
//
// Kills are scheduled against the workload's progress (as the k-th checkout is sent, while it is
// unanswered), not the clock, so a seed replays the same victims at the same points, each with
// checkouts in flight, on a fast machine or a slow one.
//
//   --seconds S    how long the checkouts are spread over (default 60)
//   --seed N       random seed for the workload and the kill schedule (default: the clock)
//   --every S      a kill per S seconds' worth of checkouts (default 3), --down S: how long a victim stays down (1.5)
//   --shards N --instances N      stack layout (default 3, 2)
//   --orders N     checkouts spread over the window (default 40 per second)
//   --concurrency N   checkouts in flight at most (default 16)
//   --protocol P   saga or 2pc (default: TX_PROTOCOL, else saga)
//   --all-commit   stock and credit for every order, so every checkout should commit: any answer
//                  other than a 200 fails the run (a kill that cost a checkout)
//   --kills 0      no kills at all: the same run's figures without failures, to compare against
//   --out DIR      where the result (JSON) and its report (HTML) go (default bench-results)
//
// With REDIS_MODE=cluster in the environment each service's Redis is a Redis Cluster (--shards
// masters, at least 3, with a replica each), and any node, master or replica, may be the victim.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { pendingCheckouts, startTemporaryStack, type Component } from "../local/stack.js";
import type { TxProtocol } from "@shardshop/orchestrator";
import { checkLedger, must, populate, type Plan } from "./consistency.js";
import { helpFromHeader, isMain, parseArgs, protocolArg } from "./cli.js";
import { AnswerTimeline, latencyChart, percentile, renderReport, reportFileFor, statusChart, type AnswerSeries, type Report } from "./report.js";
import { apiClient, mapLimit, Progress, seededRandom } from "./workload.js";

export interface ChaosOptions {
  seconds: number;
  seed: number;
  every: number;
  down: number;
  shards: number;
  instances: number;
  orders: number;
  /** Checkouts in flight at most. */
  concurrency?: number;
  /** The checkout protocol the stack runs. */
  protocol: TxProtocol;
  /** Stock and credit for every order: every answer but a 200 fails the run. */
  allCommit?: boolean;
  /** False for a run without kills, to compare against. */
  kills?: boolean;
  log?: (line: string) => void;
}

export interface Kill {
  /** Seconds since the checkouts began. */
  at: number;
  /** Checkouts sent when the victim was killed, and how many of them had no answer yet. */
  afterCheckouts: number;
  inFlight: number;
  component: string;
  restarted: boolean;
  /** Seconds since the checkouts began when it was up again. */
  upAt?: number;
}

export interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

/** Seconds after a victim is up again that its checkouts still count as "during the kill". */
export const KILL_WINDOW_S = 2;

function summarize(latencies: number[]): LatencySummary {
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (p: number) => percentile(sorted, p) ?? 0;
  return { count: sorted.length, p50: at(50), p99: at(99), max: at(100) };
}

/**
 * Gives every item the stock and every user the credit all their orders need together, so every
 * checkout can commit whatever the order they run in.
 */
async function fundEveryOrder(api: ReturnType<typeof apiClient>, plan: Plan): Promise<void> {
  const units = new Map<number, number>();
  const spend = new Map<number, number>();
  for (const o of plan.orders) {
    for (const [i, q] of o.lines) units.set(i, (units.get(i) ?? 0) + q);
    spend.set(o.user, (spend.get(o.user) ?? 0) + o.total);
  }
  await mapLimit([...units], 10, async ([i, q]) => must(api.postOnce(`/stock/add/${plan.items[i]!.id}/${q}`), "stock/add"));
  await mapLimit([...spend], 50, async ([u, total]) => must(api.postOnce(`/payment/add_funds/${plan.users[u]!.id}/${total}`), "add_funds"));
}

export interface ChaosReport {
  kills: Kill[];
  checkouts: number;
  answers: { committed: number; refused: number; unknown: number };
  /**
   * Answers the public log rule reads wrong: a non-4xx (a 2xx, a 5xx, or none) for an order that
   * ends unpaid, or a 4xx for one that ends paid. Must be empty.
   */
  contradictions: string[];
  /** Checkout latency (ms) over the whole run, and of the checkouts sent while a victim was down or within `KILL_WINDOW_S` of its restart. */
  latency: { all: LatencySummary; duringKills: LatencySummary };
  /** Checkouts answered per second, from the first send to the last answer. */
  throughput: number;
  /** With `allCommit`: answers other than a 200, by status (0: no answer). Must be empty. */
  notCommitted: Record<string, number>;
  /** The answers second by second, by status class ("2xx", "4xx", "5xx", "none"). */
  timeline: AnswerSeries;
  ledgerErrors: string[];
  figures: { stockLog: number; stockDb: number; paymentLog: number; paymentDb: number };
  recoverySeconds: number;
  ok: boolean;
}

/** Re-reads what the shop actually holds, so the ledger starts from the truth, not the plan. */
async function refreshPlan(api: ReturnType<typeof apiClient>, plan: Plan): Promise<Plan> {
  const items = await mapLimit(plan.items, 10, async (i) => ({ ...i, stock: (await must(api.get(`/stock/find/${i.id}`), "find")).stock }));
  const users = await mapLimit(plan.users, 50, async (u) => ({ ...u, credit: (await must(api.get(`/payment/find_user/${u.id}`), "find_user")).credit }));
  const index = new Map(items.map((i, k) => [i.id, k]));
  const orders = await mapLimit(plan.orders, 50, async (o) => {
    const found = await must(api.get(`/orders/find/${o.id}`), "orders/find");
    return { ...o, lines: (found.items as Array<[string, number]>).map(([id, q]) => [index.get(id)!, q] as [number, number]), total: found.total_cost };
  });
  return { items, users, orders };
}

export async function runChaos(o: ChaosOptions): Promise<ChaosReport> {
  const log = o.log ?? console.log;
  const random = seededRandom(o.seed);
  const stack = await startTemporaryStack("chaos", {
    shards: o.shards,
    instances: o.instances,
    gatewayPort: 0,
    output: "files",
    env: { TX_PROTOCOL: o.protocol, LOG_LEVEL: "warn" },
  });
  const api = apiClient(stack.url, 64);
  let started = Date.now();
  const since = () => ((Date.now() - started) / 1000).toFixed(1);
  const kills: Kill[] = [];
  try {
    log(`chaos: seed ${o.seed}, ${o.shards} shards and ${o.instances} instances per service, a kill every ${o.every} s for ${o.seconds} s`);
    const populated = await populate(api, true, random, o.orders);
    if (o.allCommit) await fundEveryOrder(api, populated);
    const plan = await refreshPlan(api, populated);
    log(`populated ${plan.items.length} items, ${plan.users.length} users, ${plan.orders.length} orders; kills start now`);
    started = Date.now();

    // The killer: one victim at a time, restarted on the same port and data. It is woken by the send
    // of each kill point's checkout, before any answer can arrive, so every kill strikes checkouts in
    // flight however fast or busy the machine. The workload holds that checkout back until the
    // killer waits for it (the previous victim restarted): a slow restart delays a kill, never skips
    // or moves it.
    const progress = new Progress();
    const victims: Component[] = stack.all();
    const killEvery = Math.max(1, Math.round((plan.orders.length * o.every) / o.seconds));
    const killPoints = o.kills === false ? [] : Array.from({ length: Math.floor((plan.orders.length - 1) / killEvery) }, (_, i) => (i + 1) * killEvery);
    progress.update({ limit: killPoints[0] ?? Number.POSITIVE_INFINITY });
    const killer = (async () => {
      for (const [i, point] of killPoints.entries()) {
        await progress.until(() => progress.sent >= point && progress.sent > progress.answered, `checkout ${point} was sent and still unanswered`);
        const victim = random.pick(victims);
        const kill: Kill = { at: Number(since()), afterCheckouts: progress.sent, inFlight: progress.sent - progress.answered, component: victim.name, restarted: false };
        await victim.stop("SIGKILL");
        kills.push(kill);
        progress.update({ limit: (killPoints[i + 1] ?? Number.POSITIVE_INFINITY) - 1 });
        await sleep(o.down * 1000);
        try {
          await victim.start();
          kill.restarted = true;
          kill.upAt = Number(since());
        } catch (err) {
          log(`  restart of ${victim.name} failed: ${(err as Error).message}`);
        }
        log(`  t=${kill.at}s after ${kill.afterCheckouts} checkouts (${kill.inFlight} in flight) SIGKILL ${victim.name}, restarted ${kill.restarted ? "ok" : "FAILED"} after ${o.down}s`);
        progress.update({ limit: killPoints[i + 1] ?? Number.POSITIVE_INFINITY });
      }
    })();

    // Checkouts spread over the window, a few in flight at a time.
    const spacing = (o.seconds * 1000) / plan.orders.length;
    const timeline = new AnswerTimeline();
    /** Each checkout's send (s since the start) and latency (ms). */
    const timings: Array<{ sentAt: number; ms: number }> = [];
    let lastAnswerAt = 0;
    const statuses = await mapLimit(plan.orders, o.concurrency ?? 16, async (order, k) => {
      const due = started + k * spacing - Date.now();
      if (due > 0) await sleep(due);
      await progress.maySend();
      const answer = api.post(`/orders/checkout/${order.id}`);
      const sentAt = performance.now();
      const sentSince = (Date.now() - started) / 1000;
      progress.update({ sent: progress.sent + 1 });
      const { status } = await answer;
      const ms = performance.now() - sentAt;
      timings[k] = { sentAt: sentSince, ms };
      lastAnswerAt = Date.now();
      timeline.record(status ? `${Math.floor(status / 100)}xx` : "none", ms);
      progress.update({ answered: progress.answered + 1 });
      return status;
    });
    progress.end();
    await killer;
    for (const c of victims) if (!c.running) await c.start();

    // Recovery: every abandoned checkout finished (rolled forward or compensated).
    const recoveryStart = Date.now();
    for (let i = 0; i < 600 && (await pendingCheckouts(stack)) > 0; i++) await sleep(100);
    const recoverySeconds = (Date.now() - recoveryStart) / 1000;
    const leftPending = await pendingCheckouts(stack);
    log(`all components up; ${leftPending} checkouts pending after ${recoverySeconds.toFixed(1)} s of recovery`);

    const stocks = await mapLimit(plan.items, 10, async (i) => (await must(api.get(`/stock/find/${i.id}`), "find")).stock as number);
    const credits = await mapLimit(plan.users, 50, async (u) => (await must(api.get(`/payment/find_user/${u.id}`), "find_user")).credit as number);
    const paid = await mapLimit(plan.orders, 50, async (ord) => (await must(api.get(`/orders/find/${ord.id}`), "orders/find")).paid as boolean);

    const committed = statuses.map((s) => s >= 200 && s < 300);
    const refused = statuses.map((s) => s >= 400 && s < 500);
    const contradictions: string[] = [];
    plan.orders.forEach((ord, k) => {
      if (!refused[k] && !paid[k]) contradictions.push(`order ${ord.id}: answered ${statuses[k] || "nothing"} (a success by the public log rule) but is not paid`);
      if (refused[k] && paid[k]) contradictions.push(`order ${ord.id}: answered ${statuses[k]} but is paid`);
    });
    // The ledger judges by what the database says; answers without an outcome are judged by it.
    const ledgerErrors = await checkLedger(api, plan, paid, stocks, credits);
    if (leftPending > 0) ledgerErrors.push(`${leftPending} checkouts still pending after recovery`);

    // The public test's figures, with the public log rule (anything but a 4xx counts as success).
    const loggedSuccess = statuses.map((s) => !(s >= 400 && s < 500));
    const units = (k: number) => plan.orders[k]!.lines.reduce((n, [, q]) => n + q, 0);
    const loggedUnits = plan.orders.reduce((n, _, k) => n + (loggedSuccess[k] ? units(k) : 0), 0);
    const loggedSpent = plan.orders.reduce((n, ord, k) => n + (loggedSuccess[k] ? ord.total : 0), 0);
    const sold = plan.items.reduce((n, i, k) => n + i.stock - stocks[k]!, 0);
    const spent = plan.users.reduce((n, u, k) => n + u.credit - credits[k]!, 0);
    const figures = {
      stockLog: loggedUnits - sold,
      stockDb: Math.min(0, ...stocks),
      paymentLog: Math.abs(loggedSpent - spent),
      paymentDb: Math.abs(Math.min(0, ...credits)),
    };
    const notCommitted: Record<string, number> = {};
    if (o.allCommit) for (const s of statuses) if (s !== 200) notCommitted[s] = (notCommitted[s] ?? 0) + 1;
    const duringKill = (t: number) => kills.some((k) => t >= k.at && t < (k.upAt ?? Number.POSITIVE_INFINITY) + KILL_WINDOW_S);
    const latency = { all: summarize(timings.map((t) => t.ms)), duringKills: summarize(timings.filter((t) => duringKill(t.sentAt)).map((t) => t.ms)) };
    const throughput = Math.round(statuses.length / Math.max(0.001, (lastAnswerAt - started) / 1000));
    const answers = {
      committed: committed.filter(Boolean).length,
      refused: refused.filter(Boolean).length,
      unknown: statuses.length - committed.filter(Boolean).length - refused.filter(Boolean).length,
    };
    return {
      kills,
      checkouts: statuses.length,
      answers,
      contradictions,
      ledgerErrors,
      figures,
      recoverySeconds,
      latency,
      throughput,
      notCommitted,
      timeline: timeline.series(),
      ok: contradictions.length === 0 && ledgerErrors.length === 0 && Object.values(figures).every((f) => f === 0) && Object.keys(notCommitted).length === 0,
    };
  } finally {
    await api.close();
    await stack.stop();
  }
}

export function printChaosReport(r: ChaosReport): void {
  console.log(`${r.kills.length} kills; ${r.checkouts} checkouts: ${r.answers.committed} committed (2xx), ${r.answers.refused} refused (4xx), ${r.answers.unknown} without an outcome (5xx or no answer)`);
  console.log(`Stock service inconsistencies in the logs: ${r.figures.stockLog}`);
  console.log(`Stock service inconsistencies in the database: ${r.figures.stockDb}`);
  console.log(`Payment service inconsistencies in the logs: ${r.figures.paymentLog}`);
  console.log(`Payment service inconsistencies in the database: ${r.figures.paymentDb}`);
  if (r.answers.unknown > 0) console.log(`  (log figures count the ${r.answers.unknown} answers without an outcome as successes, as the public test does)`);
  console.log(`Answers the public log rule reads wrong: ${r.contradictions.length}`);
  console.log(`Slowest checkout: ${(r.latency.all.max / 1000).toFixed(2)} s`);
  const l = (x: LatencySummary) => `p50 ${x.p50} ms, p99 ${x.p99} ms, max ${x.max} ms over ${x.count}`;
  console.log(`Checkout latency: ${l(r.latency.all)}; sent during a kill: ${l(r.latency.duringKills)}`);
  console.log(`Throughput: ${r.throughput} checkouts/s`);
  const missed = Object.entries(r.notCommitted);
  if (missed.length) console.log(`Checkouts that should have committed and did not: ${missed.map(([s, n]) => `${n} × ${s === "0" ? "no answer" : s}`).join(", ")}`);
  console.log(`Ledger mismatches: ${r.ledgerErrors.length}`);
  for (const e of [...r.contradictions, ...r.ledgerErrors].slice(0, 20)) console.log(`  ${e}`);
  console.log(r.ok ? "CONSISTENT" : "INCONSISTENT");
}

/** The run as pictures: its figures, then the answers second by second against every kill. */
export function chaosReport(r: ChaosReport, o: ChaosOptions): Report {
  const t = r.timeline;
  const marks = r.kills.map((k) => ({ at: k.at, until: k.upAt, label: k.component }));
  return {
    title: `shardshop chaos, seed ${o.seed} (${o.protocol})`,
    about: [`${o.shards} shards and ${o.instances} instances per service; ${r.checkouts} checkouts over ${o.seconds} s, ${o.concurrency ?? 16} at most in flight; a SIGKILL every ${o.every} s, each victim down ${o.down} s`],
    sections: [
      {
        heading: r.ok ? "CONSISTENT" : "INCONSISTENT",
        tables: [
          {
            head: ["figure", "value"],
            rows: [
              ["committed (2xx)", r.answers.committed],
              ["refused (4xx)", r.answers.refused],
              ["without an outcome (5xx or no answer)", r.answers.unknown],
              ["stock inconsistencies in the logs", r.figures.stockLog],
              ["stock inconsistencies in the database", r.figures.stockDb],
              ["payment inconsistencies in the logs", r.figures.paymentLog],
              ["payment inconsistencies in the database", r.figures.paymentDb],
              ["answers the public log rule reads wrong", r.contradictions.length],
              ["ledger mismatches", r.ledgerErrors.length],
              ["slowest checkout, s", (r.latency.all.max / 1000).toFixed(2)],
              ["checkout latency p50 / p99 / max, ms", `${r.latency.all.p50} / ${r.latency.all.p99} / ${r.latency.all.max}`],
              [`sent during a kill (until ${KILL_WINDOW_S} s after the restart): p50 / p99 / max, ms`, `${r.latency.duringKills.p50} / ${r.latency.duringKills.p99} / ${r.latency.duringKills.max}`],
              ["checkouts per second", r.throughput],
              ...(o.allCommit ? [["answers other than 200 (every order could commit)", Object.values(r.notCommitted).reduce((a, b) => a + b, 0)] as [string, number]] : []),
              ["recovery after the last answer, s", r.recoverySeconds.toFixed(1)],
            ],
          },
        ],
        text: [...r.contradictions, ...r.ledgerErrors].slice(0, 50),
      },
      {
        heading: "Answers against the kills",
        text: ["Each red line is a SIGKILL, labelled with its victim, and shaded until the victim was up again."],
        charts: [statusChart(t, "checkout answers per second, by status", marks), latencyChart(t, "checkout latency", marks)],
        tables: [{ head: ["at, s", "victim", "checkouts sent", "in flight", "up again at, s"], rows: r.kills.map((k) => [k.at, k.component, k.afterCheckouts, k.inFlight, k.upAt ?? "never"]) }],
      },
    ],
  };
}

/** Writes the run's JSON and its HTML report into `dir`; returns the JSON's path. */
export function writeChaosResult(r: ChaosReport, o: ChaosOptions, dir: string): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `chaos-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
  writeFileSync(file, JSON.stringify({ options: { ...o, log: undefined }, ...r }, null, 2));
  writeFileSync(reportFileFor(file), renderReport(chaosReport(r, o)));
  return file;
}

if (isMain(import.meta.url)) {
  const args = parseArgs(process.argv.slice(2));
  helpFromHeader(import.meta.url, args);
  const num = (name: string, fallback: number) => (args.has(name) ? Number(args.get(name)) : fallback);
  const seconds = num("seconds", 60);
  const options: ChaosOptions = {
    seconds,
    seed: num("seed", Date.now() % 1_000_000),
    every: num("every", 3),
    down: num("down", 1.5),
    shards: num("shards", 3),
    instances: num("instances", 2),
    orders: num("orders", seconds * 40),
    concurrency: num("concurrency", 16),
    protocol: protocolArg(args.get("protocol") ?? process.env.TX_PROTOCOL ?? "saga"),
    allCommit: args.has("all-commit"),
    kills: num("kills", 1) !== 0,
  };
  const report = await runChaos(options);
  printChaosReport(report);
  const file = writeChaosResult(report, options, args.get("out") ?? "bench-results");
  console.log(`written to ${file}, and its report to ${reportFileFor(file)}`);
  process.exit(report.ok ? 0 : 1);
}
