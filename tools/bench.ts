// `npm run bench [-- options]`: the stress benchmark. Initialises with the batch endpoints, runs
// fixed-duration scenarios at a fixed number of connections with autocannon, verifies that stock
// and credit are conserved after each checkout scenario, and writes everything to bench-results/.
// A --local run also counts the Redis commands each service's shards make per answer.
//
//   --url URL           system under test (default http://localhost:8000)
//   --local             start our own local stack instead (nginx gateway, AOF everysec)
//   --shards N --instances N --gateway nginx|node     layout of the --local stack (1, 1, nginx)
//   --items N --users N --orders N     batch_init sizes (default 100000 each, as the public test)
//   --fresh N           extra orders kept for the distinct-checkout scenario (default 200000)
//   --duration S --connections C       per scenario (default 20, 64)
//   --scenarios a,b     of checkout-random, checkout-distinct, find, add-funds (default all), and
//                       floor: what a checkout cannot go below on this machine (tools/floor.ts),
//                       measured after each run's scenarios from that run's find (added if not
//                       asked for) and set against its checkout-distinct
//   --floor-batch N     the batch size the floor's internal calls carry (default: the mean try
//                       batch the --local stack's order service saw, else 16)
//   --floor-seconds S   how long each piece of the floor is measured (default 5)
//   --runs N            repeat the scenarios N times and report medians (default 1)
//   --warmup S          unrecorded checkout load before the first scenario, for the JIT (default 5)
//   --client wrk        load with wrk (C, far less CPU than autocannon) instead of autocannon
//   "--node-args=..."   node flags for the --local services instead of the default ones
//                       (experiments, profiles); with `=`, as the value starts with --
//   --no-verify         skip the conservation check
//   --compare FILE      print ratios against an earlier result file
//   --out DIR           where the result file goes (default bench-results)
//   --vs URL            compare with a second running deployment B (A is --url or --local): the
//                       scenarios run on A and B in turn, --pairs times (default 3; A B, then B A,
//                       and so on), and each pair's ratio B/A and their median are printed
//   --settle S          before each round, wait up to S seconds (default 30; 0: not at all) for
//                       the machine to quiet down, so that work a round leaves behind, such as a
//                       Redis's AOF rewrite, does not land in the next
//   --populate api      create the data through the plain API (create, add, addItem without a
//                       quantity) instead of batch_init, for implementations of the 2023 API;
//                       the scenarios then walk the ids it created (default --items/--users 1000,
//                       --orders 1000, --fresh 50000)
import autocannon from "autocannon";
import { execSync } from "node:child_process";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { promisify } from "node:util";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { startTemporaryStack, type Stack } from "../local/stack.js";
import { Redis } from "ioredis";
import { perService, SERVICES, type Service } from "../common/services.js";
import { commandCounts, commandsPerRequest, type CommandsPerRequest } from "./commandstats.js";
import { findShopProcesses, sampleProcesses, untilQuiet, type ProcessFigures, type ProcessTimeline } from "./procstats.js";
import { AnswerTimeline, latencyChart, renderReport, reportFileFor, statusChart, type AnswerSeries, type Report, type TimeChart } from "./report.js";
import { helpFromHeader, isMain, parseArgs } from "./cli.js";
import { apiClient, mapLimit, type Api } from "./workload.js";
import { CHECKOUT_INTERNAL_MEMBERS, measureFloor, type FloorResult } from "./floor.js";

export const SCENARIOS = ["checkout-random", "checkout-distinct", "find", "add-funds"] as const;
type Scenario = (typeof SCENARIOS)[number];
/** Not a load on the system under test but a measurement of the machine, set against the checkout. */
const FLOOR = "floor";

const START_STOCK = 1_000_000;
const START_CREDIT = 1_000_000;
const PRICE = 1;

interface Sizes {
  items: number;
  users: number;
  orders: number;
  fresh: number;
  /** Users beyond `users` that only add-funds touches, so order payments stay exactly checkable. */
  funds: number;
}

/**
 * How the scenarios name entities: batch_init's "0".."n-1", or the ids an API population created.
 * Users count `users + funds`, orders `orders + fresh`.
 */
interface EntityIds {
  item(k: number): string;
  user(k: number): string;
  order(k: number): string;
  /** Lua defining item(k), user(k) and order(k) the same way, for wrk. */
  lua(): string;
}

const batchIds: EntityIds = {
  item: String,
  user: String,
  order: String,
  lua: () => "local function item(k) return tostring(k) end\nlocal user, order = item, item",
};

function listedIds(items: string[], users: string[], orders: string[]): EntityIds {
  const table = (name: string, ids: string[]) => `local ${name}s = {${ids.map((id) => JSON.stringify(id)).join(",")}}\nlocal function ${name}(k) return ${name}s[k + 1] end`;
  return {
    item: (k) => items[k]!,
    user: (k) => users[k]!,
    order: (k) => orders[k]!,
    lua: () => [table("item", items), table("user", users), table("order", orders)].join("\n"),
  };
}

export interface ScenarioResult {
  scenario: Scenario;
  /** Which deployment it ran against: A (--url or --local), or B (--vs). */
  target: "A" | "B";
  run: number;
  requests: number;
  rps: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  non2xx: Record<string, number>;
  errors: number;
  timeouts: number;
  /** The shop's processes found on this machine, each with its CPU per request in µs. */
  processes: Array<ProcessFigures & { usPerRequest: number }>;
  /** Their sum (in --vs mode the other deployment idles meanwhile, so this is the loaded one's). */
  cpuUsPerRequest: number;
  /** The answers second by second; autocannon only (wrk reports totals). */
  perSecond?: AnswerSeries;
  /** Each process's CPU and RSS over the round. */
  processTimeline: ProcessTimeline;
  conservation?: Conservation;
  /** --local: the Redis commands each service's shards made per answer (tools/commandstats.ts). */
  redisCommands?: CommandsPerRequest;
}

interface Conservation {
  ordersChecked: number;
  paid: number;
  stockSold: number;
  unitsInPaidOrders: number;
  creditSpent: number;
  totalOfPaidOrders: number;
  ok: boolean;
}

/** What the scenarios touched, so conservation can be checked by reading only that. */
class Touched {
  readonly orders = new Set<number>();
  nextFresh: number;
  constructor(
    readonly sizes: Sizes,
    readonly ids: EntityIds,
  ) {
    this.nextFresh = sizes.orders;
  }
  freshOrder(): number {
    const id = this.nextFresh++;
    // Past the pool the ids wrap onto orders already checked out (reported as repeats).
    return this.sizes.orders + ((id - this.sizes.orders) % this.sizes.fresh);
  }
}

function request(scenario: Scenario, sizes: Sizes, touched: Touched): { method: "GET" | "POST"; path: string } {
  const rand = (n: number) => Math.floor(Math.random() * n);
  const ids = touched.ids;
  switch (scenario) {
    case "checkout-random": {
      const k = rand(sizes.orders);
      touched.orders.add(k);
      return { method: "POST", path: `/orders/checkout/${ids.order(k)}` };
    }
    case "checkout-distinct": {
      const k = touched.freshOrder();
      touched.orders.add(k);
      return { method: "POST", path: `/orders/checkout/${ids.order(k)}` };
    }
    case "find":
      return { method: "GET", path: `/stock/find/${ids.item(rand(sizes.items))}` };
    case "add-funds":
      // Users past the ones orders belong to, so conservation of order payments stays exact.
      return { method: "POST", path: `/payment/add_funds/${ids.user(sizes.users + rand(sizes.funds))}/1` };
  }
}

async function initialise(api: Api, sizes: Sizes): Promise<EntityIds> {
  const steps = [
    `/stock/batch_init/${sizes.items}/${START_STOCK}/${PRICE}`,
    `/payment/batch_init/${sizes.users + sizes.funds}/${START_CREDIT}`,
    `/orders/batch_init/${sizes.orders + sizes.fresh}/${sizes.items}/${sizes.users}/${PRICE}`,
  ];
  for (const path of steps) {
    const { status, body } = await api.post(path);
    if (status !== 200) throw new Error(`${path} answered ${status}: ${JSON.stringify(body)}`);
  }
  return batchIds;
}

/**
 * The same data as `initialise`, through the plain API that every implementation has (no
 * batch_init, addItem without a quantity): items at PRICE with START_STOCK, users with
 * START_CREDIT, orders of two random items for random users. Prints a progress line meanwhile.
 */
async function populateViaApi(api: Api, sizes: Sizes, label: string): Promise<EntityIds> {
  const total = sizes.items * 2 + (sizes.users + sizes.funds) * 2 + (sizes.orders + sizes.fresh) * 3;
  let done = 0;
  const call = async (path: string) => {
    const { status, body } = await api.post(path);
    done++;
    if (status !== 200) throw new Error(`${path} answered ${status}: ${JSON.stringify(body)}`);
    return body;
  };
  const progress = setInterval(() => process.stdout.write(`\r  ${label}: populating through the API, ${Math.floor((100 * done) / total)}% of ${total} calls`), 1000);
  try {
    const items = await mapLimit(Array.from({ length: sizes.items }), 64, async () => {
      const { item_id } = await call(`/stock/item/create/${PRICE}`);
      await call(`/stock/add/${item_id}/${START_STOCK}`);
      return String(item_id);
    });
    const users = await mapLimit(Array.from({ length: sizes.users + sizes.funds }), 64, async () => {
      const { user_id } = await call("/payment/create_user");
      await call(`/payment/add_funds/${user_id}/${START_CREDIT}`);
      return String(user_id);
    });
    const pick = <T>(list: T[], below = list.length) => list[Math.floor(Math.random() * below)]!;
    const orders = await mapLimit(Array.from({ length: sizes.orders + sizes.fresh }), 64, async () => {
      const { order_id } = await call(`/orders/create/${pick(users, sizes.users)}`);
      for (let line = 0; line < 2; line++) await call(`/orders/addItem/${order_id}/${pick(items)}`);
      return String(order_id);
    });
    return listedIds(items, users, orders);
  } finally {
    clearInterval(progress);
    process.stdout.write(`\r  ${label}: populated through the API, ${done} calls\n`);
  }
}

interface LoadOptions {
  duration: number;
  connections: number;
  client: "autocannon" | "wrk";
  /** Better names for processes found by their command line: a --local stack's Redis servers by service. */
  processNames?: Map<string, string>;
}
type Load = Omit<ScenarioResult, "scenario" | "target" | "run" | "processes" | "cpuUsPerRequest" | "processTimeline" | "conservation" | "redisCommands">;

async function loadWithAutocannon(url: string, scenario: Scenario, sizes: Sizes, touched: Touched, opts: LoadOptions): Promise<Load> {
  const timeline = new AnswerTimeline();
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const options = {
      url,
      connections: opts.connections,
      duration: opts.duration,
      requests: [{ setupRequest: (req: any) => ({ ...req, ...request(scenario, sizes, touched) }) }],
    };
    const instance = autocannon(options, (err, res) => (err ? reject(err) : resolve(res)));
    instance.on("response", (_client, statusCode, _bytes, responseTime) => timeline.record(String(statusCode), responseTime));
  });
  const non2xx: Record<string, number> = {};
  for (const [code, { count }] of Object.entries(result.statusCodeStats as Record<string, { count: number }>)) {
    if (!code.startsWith("2")) non2xx[code] = count;
  }
  return {
    requests: result.requests.total,
    rps: Math.round(result.requests.total / result.duration),
    latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max },
    non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    perSecond: timeline.series(),
  };
}

const WRK_THREADS = 2;

/** The same scenarios as a wrk Lua script; thread t of T takes fresh orders t, t+T, t+2T, ... */
function wrkScript(scenario: Scenario, sizes: Sizes, touched: Touched): string {
  const start = touched.nextFresh - sizes.orders;
  const path: Record<Scenario, string> = {
    "checkout-random": `"/orders/checkout/" .. order(math.random(0, ${sizes.orders - 1}))`,
    "checkout-distinct": `"/orders/checkout/" .. order(${sizes.orders} + (${start} + (counter - 1) * ${WRK_THREADS} + index) % ${sizes.fresh})`,
    find: `"/stock/find/" .. item(math.random(0, ${sizes.items - 1}))`,
    "add-funds": `"/payment/add_funds/" .. user(${sizes.users} + math.random(0, ${sizes.funds - 1})) .. "/1"`,
  };
  return `
${touched.ids.lua()}
local threads, made = {}, 0
function setup(thread)
  thread:set("index", made)
  made = made + 1
  table.insert(threads, thread)
end
function init(args)
  counter = 0
  math.randomseed(os.time() * 7 + index)
end
function request()
  counter = counter + 1
  return wrk.format(${scenario === "find" ? '"GET"' : '"POST"'}, ${path[scenario]})
end
function done(summary, latency, requests)
  local counts = {}
  for i, t in ipairs(threads) do counts[i] = tostring(t:get("counter")) end
  io.write(string.format('\\nRESULT {"requests":%d,"us":%d,"p50":%d,"p90":%d,"p99":%d,"max":%d,"non2xx":%d,"errors":%d,"timeouts":%d,"counts":[%s]}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write, summary.errors.timeout,
    table.concat(counts, ",")))
end
`;
}

async function loadWithWrk(url: string, scenario: Scenario, sizes: Sizes, touched: Touched, opts: LoadOptions): Promise<Load> {
  const dir = mkdtempSync(join(tmpdir(), "shardshop-wrk-"));
  const script = join(dir, "scenario.lua");
  writeFileSync(script, wrkScript(scenario, sizes, touched));
  try {
    const { stdout, stderr } = await promisify(execFile)("wrk", [`-t${WRK_THREADS}`, `-c${opts.connections}`, `-d${opts.duration}s`, "-s", script, url]);
    const line = stdout.split("\n").find((l) => l.startsWith("RESULT "));
    if (!line) throw new Error(`wrk printed no result:\n${stdout}\n${stderr}`);
    const r = JSON.parse(line.slice(7));
    // What wrk touched, so the conservation check reads the right orders.
    if (scenario === "checkout-random") for (let i = 0; i < sizes.orders; i++) touched.orders.add(i);
    if (scenario === "checkout-distinct") {
      const issued = WRK_THREADS * Math.max(...(r.counts as number[]));
      for (let k = 0; k < issued; k++) touched.orders.add(touched.freshOrder());
    }
    const ms = (us: number) => Math.round(us / 100) / 10;
    return {
      requests: r.requests,
      rps: Math.round(r.requests / (r.us / 1e6)),
      latencyMs: { p50: ms(r.p50), p90: ms(r.p90), p99: ms(r.p99), max: ms(r.max) },
      non2xx: r.non2xx ? { "non-2xx": r.non2xx } : {},
      errors: r.errors,
      timeouts: r.timeouts,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function runScenario(target: Target, scenario: Scenario, run: number, sizes: Sizes, opts: LoadOptions): Promise<ScenarioResult> {
  const sampler = sampleProcesses(findShopProcesses().map((p) => ({ ...p, name: opts.processNames?.get(p.name) ?? p.name })));
  const counted = target.shards && (await commandCounts(target.shards));
  const started = performance.now();
  const load = await (opts.client === "wrk" ? loadWithWrk : loadWithAutocannon)(target.url, scenario, sizes, target.touched, opts);
  const seconds = (performance.now() - started) / 1000;
  const { figures, timeline } = sampler.stop();
  const redisCommands = counted && commandsPerRequest(counted, await commandCounts(target.shards!), load.requests);
  const processes = figures.map((p) => ({ ...p, usPerRequest: Math.round(((p.cpuPercent / 100) * seconds * 1e6) / Math.max(1, load.requests)) }));
  return { scenario, target: target.name, run, ...load, processes, cpuUsPerRequest: processes.reduce((sum, p) => sum + p.usPerRequest, 0), processTimeline: timeline, redisCommands };
}

/** A deployment under load: where it is, what it holds, and what its scenarios have touched. */
interface Target {
  name: "A" | "B";
  url: string;
  api: Api;
  touched: Touched;
  conservation: ConservationCheck;
  /** The --local stack's shards (A's only), whose commands each of its rounds counts. */
  shards?: Record<Service, Redis[]>;
}

/**
 * Stock sold equals the units of paid orders, and credit spent equals their totals, per item and
 * per user. Paid is final, so orders known paid are not read again: each check reads the orders
 * this scenario touched and the items and users they refer to, against all paid orders so far.
 */
class ConservationCheck {
  private readonly paid = new Map<string, { user: string; items: Array<[string, number]>; total: number }>();
  private checked = new Set<number>();

  async run(api: Api, touched: Touched): Promise<Conservation> {
    const fresh = [...touched.orders].filter((id) => !this.checked.has(id));
    const found = await mapLimit(fresh, 256, async (id) => (await api.get(`/orders/find/${touched.ids.order(id)}`)).body);
    const items = new Set<string>();
    const users = new Set<string>();
    found.forEach((o, k) => {
      for (const [item] of (o?.items ?? []) as Array<[string, number]>) items.add(item);
      if (o?.user_id) users.add(o.user_id);
      if (o?.paid) {
        this.paid.set(String(fresh[k]), { user: o.user_id, items: o.items, total: o.total_cost });
        this.checked.add(fresh[k]!);
      }
    });
    const unitsPerItem = new Map<string, number>();
    const spentPerUser = new Map<string, number>();
    for (const o of this.paid.values()) {
      spentPerUser.set(o.user, (spentPerUser.get(o.user) ?? 0) + o.total);
      for (const [item, q] of o.items) unitsPerItem.set(item, (unitsPerItem.get(item) ?? 0) + q);
    }
    const itemList = [...items];
    const userList = [...users];
    const stocks = await mapLimit(itemList, 256, async (i) => (await api.get(`/stock/find/${i}`)).body.stock as number);
    const credits = await mapLimit(userList, 256, async (u) => (await api.get(`/payment/find_user/${u}`)).body.credit as number);
    const stockSold = stocks.reduce((s, left) => s + (START_STOCK - left), 0);
    const units = itemList.reduce((s, i) => s + (unitsPerItem.get(i) ?? 0), 0);
    const creditSpent = credits.reduce((s, left) => s + (START_CREDIT - left), 0);
    const total = userList.reduce((s, u) => s + (spentPerUser.get(u) ?? 0), 0);
    const perItemOk = itemList.every((item, k) => START_STOCK - stocks[k]! === (unitsPerItem.get(item) ?? 0));
    const perUserOk = userList.every((user, k) => START_CREDIT - credits[k]! === (spentPerUser.get(user) ?? 0));
    return {
      ordersChecked: fresh.length,
      paid: this.paid.size,
      stockSold,
      unitsInPaidOrders: units,
      creditSpent,
      totalOfPaidOrders: total,
      ok: perItemOk && perUserOk && stockSold === units && creditSpent === total,
    };
  }
}


interface Summary {
  scenario: Scenario;
  rps: number;
  p50: number;
  p99: number;
  runs: number[];
}

function summarise(results: ScenarioResult[]): Summary[] {
  return SCENARIOS.flatMap((scenario) => {
    const mine = results.filter((r) => r.scenario === scenario && r.target === "A");
    if (mine.length === 0) return [];
    return [{ scenario, rps: medianOf(mine.map((r) => r.rps)), p50: medianOf(mine.map((r) => r.latencyMs.p50)), p99: medianOf(mine.map((r) => r.latencyMs.p99)), runs: mine.map((r) => r.rps) }];
  });
}

/** What a run writes to its result file. */
export interface BenchRecord {
  timestamp: string;
  commit: string;
  machine: { cores: number; cpu: string; node: string };
  target: { local: object } | { url: string };
  /** With --vs: the second deployment, each pair, and the medians per scenario. */
  vs?: { url: string; pairs: Pair[]; medians: Record<string, { rpsRatio: number; cpuRatio: number }> };
  options: object;
  summary: Summary[];
  distinctToFindRatio?: number;
  /** With the floor scenario: per run, the floor and how far the same run's checkout-distinct is from it. */
  floor?: Array<FloorResult & { run: number; checkoutUs?: number; checkoutOverFloor?: number }>;
  maxServiceRssMb: number;
  results: ScenarioResult[];
}

/** Per scenario and pair (--vs): B's rate over A's, and B's CPU per request over A's. */
interface Pair {
  scenario: Scenario;
  run: number;
  a: { rps: number; p99: number; cpuUs: number };
  b: { rps: number; p99: number; cpuUs: number };
  rpsRatio: number;
  cpuRatio: number;
}

function comparePairs(results: ScenarioResult[], scenarios: Scenario[]): { pairs: Pair[]; medians: Record<string, { rpsRatio: number; cpuRatio: number }> } {
  const pairs: Pair[] = [];
  for (const r of results.filter((x) => x.target === "A")) {
    const b = results.find((x) => x.target === "B" && x.scenario === r.scenario && x.run === r.run);
    if (!b) continue;
    const side = (x: ScenarioResult) => ({ rps: x.rps, p99: x.latencyMs.p99, cpuUs: x.cpuUsPerRequest });
    pairs.push({ scenario: r.scenario, run: r.run, a: side(r), b: side(b), rpsRatio: b.rps / r.rps, cpuRatio: b.cpuUsPerRequest / Math.max(1, r.cpuUsPerRequest) });
  }
  const medians: Record<string, { rpsRatio: number; cpuRatio: number }> = {};
  for (const scenario of scenarios) {
    const mine = pairs.filter((p) => p.scenario === scenario);
    if (mine.length) medians[scenario] = { rpsRatio: medianOf(mine.map((p) => p.rpsRatio)), cpuRatio: medianOf(mine.map((p) => p.cpuRatio)) };
  }
  console.log("\nB against A, pair by pair (A ran first in odd pairs, B in even ones):");
  for (const p of pairs) {
    console.log(
      `  ${p.scenario.padEnd(18)} pair ${p.run}: A ${p.a.rps} req/s (p99 ${p.a.p99} ms, ${p.a.cpuUs} µs CPU/req)  B ${p.b.rps} req/s (p99 ${p.b.p99} ms, ${p.b.cpuUs} µs CPU/req)  B/A ${p.rpsRatio.toFixed(3)}`,
    );
  }
  for (const [scenario, m] of Object.entries(medians)) console.log(`  ${scenario.padEnd(18)} median B/A: ${m.rpsRatio.toFixed(3)} req/s, ${m.cpuRatio.toFixed(3)} CPU per request`);
  return { pairs, medians };
}

/** The mean batch of tries an order service has sent so far (its batch-size histogram), if it serves metrics. */
async function tryBatchOf(orderUrl: string): Promise<number | undefined> {
  try {
    const text = await (await fetch(`${orderUrl}/metrics`)).text();
    const total = (suffix: string) =>
      text
        .split("\n")
        .filter((l) => l.includes(`batch_size_${suffix}{`) && /step="(step|prepare)"/.test(l))
        .reduce((sum, l) => sum + Number(l.split(" ").pop()), 0);
    const count = total("count");
    return count > 0 ? total("sum") / count : undefined;
  } catch {
    return undefined;
  }
}

function printFloor(f: NonNullable<BenchRecord["floor"]>[number]): void {
  const m = f.internalCall;
  console.log(
    `floor run ${f.run}: ${f.floorUs} µs of CPU per checkout = find ${f.findUs} + one write of ${f.script.keys} keys ${f.script.totalUs} (Redis ${f.script.redisUs}, client ${f.script.clientUs})` +
      ` + ${CHECKOUT_INTERNAL_MEMBERS} internal calls in batches of ${m.batch} at ${m.totalUsPerMember} each (server ${m.serverUsPerMember}, client ${m.clientUsPerMember})`,
  );
  if (f.checkoutUs !== undefined) console.log(`    checkout-distinct in the same run: ${f.checkoutUs} µs = ${f.checkoutOverFloor}× the floor`);
}

/** The true median (the mean of the middle two for an even count). */
function medianOf(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  return sorted.length % 2 ? sorted[Math.floor(mid)]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function printResult(r: ScenarioResult): void {
  const lat = r.latencyMs;
  console.log(
    `${r.target} ${r.scenario.padEnd(18)} run ${r.run}: ${String(r.rps).padStart(6)} req/s  p50 ${lat.p50} ms  p90 ${lat.p90} ms  p99 ${lat.p99} ms  max ${lat.max} ms` +
      `  non-2xx ${JSON.stringify(r.non2xx)}  errors ${r.errors}  timeouts ${r.timeouts}`,
  );
  for (const p of r.processes.filter((x) => x.usPerRequest > 0)) {
    console.log(`    ${p.name.padEnd(22)} cpu ${String(p.cpuPercent).padStart(3)}%  rss ${p.maxRssMb} MB  ${p.usPerRequest} µs/request`);
  }
  if (r.processes.length) console.log(`    CPU per request, the shop's processes on this machine: ${r.cpuUsPerRequest} µs`);
  if (r.redisCommands) {
    const of = (s: Service) => {
      const { total, byCommand } = r.redisCommands![s];
      const parts = Object.entries(byCommand).filter(([, n]) => n >= 0.05).sort(([, a], [, b]) => b - a).map(([c, n]) => `${c} ${n.toFixed(2)}`);
      return `${s} ${total.toFixed(2)}${parts.length ? ` (${parts.join(", ")})` : ""}`;
    };
    console.log(`    Redis commands per request: ${SERVICES.map(of).join("; ")}`);
  }
  if (r.conservation) {
    const c = r.conservation;
    console.log(
      `    conservation ${c.ok ? "OK" : "VIOLATED"}: ${c.ordersChecked} orders read, ${c.paid} paid so far; over the items and users they touch: stock sold ${c.stockSold} = units in paid orders ${c.unitsInPaidOrders}, credit spent ${c.creditSpent} = paid totals ${c.totalOfPaidOrders}`,
    );
  }
}

/** The run as pictures: a table of every round, the --vs pairs, and each round's charts over time. */
function benchReport(record: BenchRecord): Report {
  const sections: Report["sections"] = [
    {
      heading: "Rounds",
      tables: [
        {
          head: ["target", "scenario", "run", "req/s", "p50 ms", "p99 ms", "max ms", "non-2xx", "errors", "CPU µs/request", "conservation"],
          rows: record.results.map((r) => [
            r.target,
            r.scenario,
            r.run,
            r.rps,
            r.latencyMs.p50,
            r.latencyMs.p99,
            r.latencyMs.max,
            Object.values(r.non2xx).reduce((a, b) => a + b, 0),
            r.errors + r.timeouts,
            r.cpuUsPerRequest,
            r.conservation ? (r.conservation.ok ? "ok" : "VIOLATED") : "",
          ]),
        },
      ],
    },
  ];
  if (record.vs) {
    sections.push({
      heading: `B (${record.vs.url}) against A, pair by pair`,
      tables: [
        {
          head: ["scenario", "pair", "A req/s", "B req/s", "B/A rate", "A µs/request", "B µs/request", "B/A CPU"],
          rows: record.vs.pairs.map((p) => [p.scenario, p.run, p.a.rps, p.b.rps, p.rpsRatio.toFixed(3), p.a.cpuUs, p.b.cpuUs, p.cpuRatio.toFixed(3)]),
        },
        {
          head: ["scenario", "median B/A rate", "median B/A CPU"],
          rows: Object.entries(record.vs.medians).map(([scenario, m]) => [scenario, m.rpsRatio.toFixed(3), m.cpuRatio.toFixed(3)]),
        },
      ],
    });
  }
  for (const r of record.results) {
    const charts: TimeChart[] = [];
    const a = r.perSecond;
    if (a) {
      charts.push({ title: "answers per second", unit: "answers/s", seconds: a.seconds, series: [{ label: "answers", values: a.answers }] });
      charts.push(latencyChart(a, "latency"), statusChart(a, "answers per second by status"));
    }
    const t = r.processTimeline;
    const names = t.processes.map((p) => p.name);
    const label = (p: ProcessTimeline["processes"][number]) => (names.filter((n) => n === p.name).length > 1 ? `${p.name} (${p.pid})` : p.name);
    if (t.seconds.length) {
      charts.push({ title: "CPU per process", unit: "% of a core", seconds: t.seconds, series: t.processes.map((p) => ({ label: label(p), values: p.cpuPercent })) });
      charts.push({ title: "RSS per process", unit: "MB", seconds: t.seconds, series: t.processes.map((p) => ({ label: label(p), values: p.rssMb })) });
    }
    sections.push({
      heading: `${r.target} ${r.scenario}, run ${r.run}: ${r.rps} req/s, p99 ${r.latencyMs.p99} ms`,
      text: a ? [] : ["wrk reports totals only: run with --client autocannon for answers second by second."],
      charts,
    });
  }
  const target = "url" in record.target ? record.target.url : `a local stack ${JSON.stringify(record.target.local)}`;
  return {
    title: `shardshop bench ${record.timestamp}`,
    about: [`commit ${record.commit}, against ${target}${record.vs ? ` and ${record.vs.url}` : ""}`, `${record.machine.cores} cores (${record.machine.cpu}), Node ${record.machine.node}`, `options ${JSON.stringify(record.options)}`],
    sections,
  };
}

function gitCommit(): string {
  try {
    return execSync("git rev-parse --short HEAD", { stdio: ["ignore", "pipe", "ignore"] }).toString().trim();
  } catch {
    return "unknown";
  }
}

/** Runs the benchmark as the command line `argv` says; the result is also written to --out. */
export async function runBench(argv: string[]): Promise<{ exitCode: number; record: BenchRecord; file: string }> {
  const args = parseArgs(argv);
  helpFromHeader(import.meta.url, args);
  const num = (name: string, fallback: number) => (args.has(name) ? Number(args.get(name)) : fallback);
  // Through the plain API every entity costs calls, so its default population is smaller.
  const viaApi = args.get("populate") === "api";
  const sizes: Sizes = {
    items: num("items", viaApi ? 1000 : 100_000),
    users: num("users", viaApi ? 1000 : 100_000),
    orders: num("orders", viaApi ? 1000 : 100_000),
    fresh: num("fresh", viaApi ? 50_000 : 200_000),
    funds: viaApi ? 1000 : 10_000,
  };
  const client = (args.get("client") ?? "autocannon") as LoadOptions["client"];
  if (client !== "autocannon" && client !== "wrk") throw new Error("--client is autocannon or wrk");
  const opts: LoadOptions = { duration: num("duration", 20), connections: num("connections", 64), client };
  const asked = args.get("scenarios")?.split(",") ?? [...SCENARIOS];
  for (const s of asked) if (s !== FLOOR && !SCENARIOS.includes(s as Scenario)) throw new Error(`unknown scenario ${s}; choose from ${[...SCENARIOS, FLOOR].join(", ")}`);
  const withFloor = asked.includes(FLOOR);
  // The floor is built from the same run's find.
  const scenarios = SCENARIOS.filter((s) => asked.includes(s) || (withFloor && s === "find"));
  const floors: NonNullable<BenchRecord["floor"]> = [];
  const runs = num("runs", 1);

  let stack: Stack | undefined;
  let url = args.get("url") ?? "http://localhost:8000";
  const layout = { shards: num("shards", 1), instances: num("instances", 1), gateway: (args.get("gateway") ?? "nginx") as "nginx" | "node" };
  if (args.has("local")) {
    const nodeArgs = args.get("node-args")?.split(" ").filter(Boolean);
    stack = await startTemporaryStack("bench", { ...layout, gatewayPort: 0, output: "files", env: { LOG_LEVEL: "warn" }, nodeArgs });
    url = stack.url;
    opts.processNames = new Map(SERVICES.flatMap((service) => stack!.redis[service].map((r, i) => [`redis 127.0.0.1:${r.port}`, `${service} redis${layout.shards > 1 ? ` ${i}` : ""}`] as const)));
    console.log(`local stack: ${layout.shards} shard(s), ${layout.instances} instance(s) per service, ${layout.gateway} gateway at ${url}`);
  }

  const apiA = apiClient(url, 256);
  const populate = args.get("populate") ?? "batch";
  if (populate !== "batch" && populate !== "api") throw new Error("--populate is batch or api");
  const results: ScenarioResult[] = [];
  const vs = args.get("vs");
  const targets: Target[] = [];
  try {
    for (const [name, at] of [["A", url], ...(vs ? [["B", vs] as const] : [])] as Array<["A" | "B", string]>) {
      const api = name === "A" ? apiA : apiClient(at, 256);
      console.log(`${name} (${at}): ${populate === "api" ? "populating through the API" : "initialising with batch_init"}: ${sizes.items} items, ${sizes.users} users, ${sizes.orders} + ${sizes.fresh} orders`);
      const ids = populate === "api" ? await populateViaApi(api, sizes, name) : await initialise(api, sizes);
      const shards = name === "A" && stack ? perService((service) => stack!.redis[service].map((r) => new Redis({ port: r.port, ...stack!.redisAuth, lazyConnect: true }))) : undefined;
      targets.push({ name, url: at, api, touched: new Touched(sizes, ids), conservation: new ConservationCheck(), shards });
    }
    const warmup = num("warmup", vs ? 0 : 5);
    for (const target of targets) {
      if (warmup <= 0) break;
      console.log(`warming up ${target.name}: ${warmup} s of checkouts (not recorded)`);
      await runScenario(target, "checkout-random", 0, sizes, { ...opts, duration: warmup });
    }
    // Without --vs, --runs rounds of A. With it, --pairs pairs, each A then B or B then A in turn,
    // so neither side always runs on a machine the other just warmed.
    const rounds = vs ? num("pairs", 3) : runs;
    const settleMs = num("settle", 30) * 1000;
    for (let run = 1; run <= rounds; run++) {
      for (const scenario of scenarios) {
        for (const target of run % 2 === 1 || !vs ? targets : [...targets].reverse()) {
          const waited = await untilQuiet(0.1, settleMs);
          if (waited > 1000) console.log(`  (waited ${(waited / 1000).toFixed(1)} s for the machine to quiet down before this round)`);
          const result = await runScenario(target, scenario, run, sizes, opts);
          if (scenario.startsWith("checkout") && !args.has("no-verify")) result.conservation = await target.conservation.run(target.api, target.touched);
          printResult(result);
          results.push(result);
        }
      }
      if (withFloor) {
        const mine = (scenario: Scenario) => results.find((r) => r.run === run && r.target === "A" && r.scenario === scenario);
        const orderUrl = stack?.services.order[0]?.url;
        const batch = args.has("floor-batch") ? num("floor-batch", 16) : ((orderUrl ? await tryBatchOf(orderUrl) : undefined) ?? 16);
        const floor = await measureFloor({ findUs: mine("find")!.cpuUsPerRequest, batch, seconds: num("floor-seconds", 5) });
        const checkoutUs = mine("checkout-distinct")?.cpuUsPerRequest;
        const entry = { run, ...floor, checkoutUs, checkoutOverFloor: checkoutUs === undefined ? undefined : Math.round((100 * checkoutUs) / floor.floorUs) / 100 };
        printFloor(entry);
        floors.push(entry);
      }
    }
  } finally {
    await Promise.all(targets.map((t) => t.api.close()));
    if (!targets.length) await apiA.close();
    for (const shard of targets.flatMap((t) => Object.values(t.shards ?? {}).flat())) shard.disconnect();
    await stack?.stop();
  }
  const pairs = vs ? comparePairs(results, scenarios) : undefined;

  const summary = summarise(results);
  console.log("\nmedians:");
  for (const s of summary) console.log(`  ${s.scenario.padEnd(18)} ${String(s.rps).padStart(6)} req/s  p50 ${s.p50} ms  p99 ${s.p99} ms  (runs: ${s.runs.join(", ")})`);
  // The machine's speed drifts between runs, so the ratio is taken within each run, then the median.
  const runRatios = [...new Set(results.map((r) => r.run))].flatMap((run) => {
    const of = (scenario: Scenario) => results.find((r) => r.run === run && r.scenario === scenario);
    const distinct = of("checkout-distinct");
    const find = of("find");
    return distinct && find ? [distinct.rps / find.rps] : [];
  });
  const ratio = runRatios.length ? medianOf(runRatios) : undefined;
  if (ratio !== undefined) {
    console.log(`  distinct checkouts / finds in the same run: ${(100 * ratio).toFixed(1)}% (runs: ${runRatios.map((r) => (100 * r).toFixed(1) + "%").join(", ")})`);
  }
  const maxServiceRss = Math.max(0, ...results.flatMap((r) => r.processes.filter((p) => /^(order|stock|payment)$/.test(p.name)).map((p) => p.maxRssMb)));
  console.log(`  largest service RSS: ${maxServiceRss} MB`);
  const violated = results.filter((r) => r.conservation && !r.conservation.ok);

  const record: BenchRecord = {
    timestamp: new Date().toISOString(),
    commit: gitCommit(),
    machine: { cores: cpus().length, cpu: cpus()[0]?.model ?? "unknown", node: process.version },
    target: stack ? { local: layout } : { url },
    vs: vs && pairs ? { url: vs, ...pairs } : undefined,
    options: { ...sizes, duration: opts.duration, connections: opts.connections, client: opts.client, runs, scenarios, populate, warmup: num("warmup", vs ? 0 : 5), settle: num("settle", 30), pairs: vs ? num("pairs", 3) : undefined },
    summary,
    distinctToFindRatio: ratio,
    floor: withFloor ? floors : undefined,
    maxServiceRssMb: maxServiceRss,
    results,
  };
  const out = args.get("out") ?? "bench-results";
  mkdirSync(out, { recursive: true });
  const file = join(out, `bench-${record.timestamp.replace(/[:.]/g, "-")}.json`);
  writeFileSync(file, JSON.stringify(record, null, 2));
  writeFileSync(reportFileFor(file), renderReport(benchReport(record)));
  console.log(`\nwritten to ${file}, and its report to ${reportFileFor(file)}`);

  if (args.has("compare")) {
    const old = JSON.parse(readFileSync(args.get("compare")!, "utf8")) as BenchRecord;
    console.log(`compared with ${args.get("compare")} (commit ${old.commit}):`);
    for (const s of summary) {
      const o = old.summary.find((x) => x.scenario === s.scenario);
      if (o) console.log(`  ${s.scenario.padEnd(18)} req/s x${(s.rps / o.rps).toFixed(2)}  p99 x${(s.p99 / o.p99).toFixed(2)}`);
    }
    if (ratio !== undefined && old.distinctToFindRatio) console.log(`  distinct/find ratio ${(100 * ratio).toFixed(1)}% vs ${(100 * old.distinctToFindRatio).toFixed(1)}%`);
  }
  if (violated.length) console.log(`CONSERVATION VIOLATED in ${violated.length} scenario run(s)`);
  return { exitCode: violated.length ? 1 : 0, record, file };
}

if (isMain(import.meta.url)) process.exit((await runBench(process.argv.slice(2))).exitCode);
