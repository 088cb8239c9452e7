// `npm run bench [-- options]`: the stress benchmark. Initialises with the batch endpoints, runs
// fixed-duration scenarios at a fixed number of connections with autocannon, verifies that stock
// and credit are conserved after each checkout scenario, and writes everything to bench-results/.
//
//   --url URL           system under test (default http://localhost:8000)
//   --local             start our own local stack instead (nginx gateway, AOF everysec)
//   --shards N --instances N --gateway nginx|node     layout of the --local stack (1, 1, nginx)
//   --items N --users N --orders N     batch_init sizes (default 100000 each, as the public test)
//   --fresh N           extra orders kept for the distinct-checkout scenario (default 200000)
//   --duration S --connections C       per scenario (default 20, 64)
//   --scenarios a,b     of checkout-random, checkout-distinct, find, add-funds (default all)
//   --runs N            repeat the scenarios N times and report medians (default 1)
//   --warmup S          unrecorded checkout load before the first scenario, for the JIT (default 5)
//   --client wrk        load with wrk (C, far less CPU than autocannon) instead of autocannon
//   --node-args "..."   extra node flags for the --local services (experiments)
//   --no-verify         skip the conservation check
//   --compare FILE      print ratios against an earlier result file
import autocannon from "autocannon";
import { execSync } from "node:child_process";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { promisify } from "node:util";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { startStack, type Stack } from "../local/stack.js";
import { findShopProcesses, sampleProcesses, type ProcessFigures } from "./procstats.js";
import { helpFromHeader, isMain, parseArgs } from "./cli.js";
import { apiClient, mapLimit, type Api } from "./workload.js";

export const SCENARIOS = ["checkout-random", "checkout-distinct", "find", "add-funds"] as const;
type Scenario = (typeof SCENARIOS)[number];

const START_STOCK = 1_000_000;
const START_CREDIT = 1_000_000;
const PRICE = 1;

interface Sizes {
  items: number;
  users: number;
  orders: number;
  fresh: number;
}

export interface ScenarioResult {
  scenario: Scenario;
  run: number;
  requests: number;
  rps: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  non2xx: Record<string, number>;
  errors: number;
  timeouts: number;
  processes: ProcessFigures[];
  conservation?: Conservation;
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
  constructor(readonly sizes: Sizes) {
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
  switch (scenario) {
    case "checkout-random": {
      const id = rand(sizes.orders);
      touched.orders.add(id);
      return { method: "POST", path: `/orders/checkout/${id}` };
    }
    case "checkout-distinct": {
      const id = touched.freshOrder();
      touched.orders.add(id);
      return { method: "POST", path: `/orders/checkout/${id}` };
    }
    case "find":
      return { method: "GET", path: `/stock/find/${rand(sizes.items)}` };
    case "add-funds":
      // Users past the ones orders belong to, so conservation of order payments stays exact.
      return { method: "POST", path: `/payment/add_funds/${sizes.users + rand(10_000)}/1` };
  }
}

async function initialise(api: Api, sizes: Sizes): Promise<void> {
  const steps = [
    `/stock/batch_init/${sizes.items}/${START_STOCK}/${PRICE}`,
    `/payment/batch_init/${sizes.users + 10_000}/${START_CREDIT}`,
    `/orders/batch_init/${sizes.orders + sizes.fresh}/${sizes.items}/${sizes.users}/${PRICE}`,
  ];
  for (const path of steps) {
    const { status, body } = await api.post(path);
    if (status !== 200) throw new Error(`${path} answered ${status}: ${JSON.stringify(body)}`);
  }
}

interface LoadOptions {
  duration: number;
  connections: number;
  client: "autocannon" | "wrk";
}
type Load = Omit<ScenarioResult, "scenario" | "run" | "processes" | "conservation">;

async function loadWithAutocannon(url: string, scenario: Scenario, sizes: Sizes, touched: Touched, opts: LoadOptions): Promise<Load> {
  const result = await autocannon({
    url,
    connections: opts.connections,
    duration: opts.duration,
    requests: [{ setupRequest: (req: any) => ({ ...req, ...request(scenario, sizes, touched) }) }],
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
  };
}

const WRK_THREADS = 2;

/** The same scenarios as a wrk Lua script; thread t of T takes fresh orders t, t+T, t+2T, ... */
function wrkScript(scenario: Scenario, sizes: Sizes, touched: Touched): string {
  const start = touched.nextFresh - sizes.orders;
  const path: Record<Scenario, string> = {
    "checkout-random": `"/orders/checkout/" .. math.random(0, ${sizes.orders - 1})`,
    "checkout-distinct": `"/orders/checkout/" .. (${sizes.orders} + (${start} + (counter - 1) * ${WRK_THREADS} + index) % ${sizes.fresh})`,
    find: `"/stock/find/" .. math.random(0, ${sizes.items - 1})`,
    "add-funds": `"/payment/add_funds/" .. (${sizes.users} + math.random(0, 9999)) .. "/1"`,
  };
  return `
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

async function runScenario(url: string, scenario: Scenario, run: number, sizes: Sizes, touched: Touched, opts: LoadOptions): Promise<ScenarioResult> {
  const sampler = sampleProcesses(findShopProcesses());
  const load = await (opts.client === "wrk" ? loadWithWrk : loadWithAutocannon)(url, scenario, sizes, touched, opts);
  return { scenario, run, ...load, processes: sampler.stop() };
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
    const found = await mapLimit(fresh, 256, async (id) => (await api.get(`/orders/find/${id}`)).body);
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

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

interface Summary {
  scenario: Scenario;
  rps: number;
  p50: number;
  p99: number;
  runs: number[];
}

function summarise(results: ScenarioResult[]): Summary[] {
  return SCENARIOS.flatMap((scenario) => {
    const mine = results.filter((r) => r.scenario === scenario);
    if (mine.length === 0) return [];
    return [{ scenario, rps: median(mine.map((r) => r.rps)), p50: median(mine.map((r) => r.latencyMs.p50)), p99: median(mine.map((r) => r.latencyMs.p99)), runs: mine.map((r) => r.rps) }];
  });
}

function printResult(r: ScenarioResult): void {
  const lat = r.latencyMs;
  console.log(
    `${r.scenario.padEnd(18)} run ${r.run}: ${String(r.rps).padStart(6)} req/s  p50 ${lat.p50} ms  p90 ${lat.p90} ms  p99 ${lat.p99} ms  max ${lat.max} ms` +
      `  non-2xx ${JSON.stringify(r.non2xx)}  errors ${r.errors}  timeouts ${r.timeouts}`,
  );
  for (const p of r.processes) console.log(`    ${p.name.padEnd(22)} cpu ${String(p.cpuPercent).padStart(3)}%  rss ${p.maxRssMb} MB`);
  if (r.conservation) {
    const c = r.conservation;
    console.log(
      `    conservation ${c.ok ? "OK" : "VIOLATED"}: ${c.ordersChecked} orders read, ${c.paid} paid so far; over the items and users they touch: stock sold ${c.stockSold} = units in paid orders ${c.unitsInPaidOrders}, credit spent ${c.creditSpent} = paid totals ${c.totalOfPaidOrders}`,
    );
  }
}

function gitCommit(): string {
  try {
    return execSync("git rev-parse --short HEAD", { stdio: ["ignore", "pipe", "ignore"] }).toString().trim();
  } catch {
    return "unknown";
  }
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  helpFromHeader(import.meta.url, args);
  const num = (name: string, fallback: number) => (args.has(name) ? Number(args.get(name)) : fallback);
  const sizes: Sizes = { items: num("items", 100_000), users: num("users", 100_000), orders: num("orders", 100_000), fresh: num("fresh", 200_000) };
  const client = (args.get("client") ?? "autocannon") as LoadOptions["client"];
  if (client !== "autocannon" && client !== "wrk") throw new Error("--client is autocannon or wrk");
  const opts: LoadOptions = { duration: num("duration", 20), connections: num("connections", 64), client };
  const scenarios = (args.get("scenarios")?.split(",") ?? [...SCENARIOS]) as Scenario[];
  for (const s of scenarios) if (!SCENARIOS.includes(s)) throw new Error(`unknown scenario ${s}; choose from ${SCENARIOS.join(", ")}`);
  const runs = num("runs", 1);

  let stack: Stack | undefined;
  let dataDir: string | undefined;
  let url = args.get("url") ?? "http://localhost:8000";
  const layout = { shards: num("shards", 1), instances: num("instances", 1), gateway: (args.get("gateway") ?? "nginx") as "nginx" | "node" };
  if (args.has("local")) {
    dataDir = mkdtempSync(join(tmpdir(), "shardshop-bench-"));
    const nodeArgs = args.get("node-args")?.split(" ").filter(Boolean);
    stack = await startStack({ ...layout, dataDir, gatewayPort: 0, output: "files", env: { LOG_LEVEL: "warn" }, nodeArgs });
    url = stack.url;
    console.log(`local stack: ${layout.shards} shard(s), ${layout.instances} instance(s) per service, ${layout.gateway} gateway at ${url}`);
  }

  const api = apiClient(url, 256);
  const results: ScenarioResult[] = [];
  try {
    console.log(`initialising: ${sizes.items} items, ${sizes.users} users, ${sizes.orders} + ${sizes.fresh} orders`);
    await initialise(api, sizes);
    const touched = new Touched(sizes);
    const conservation = new ConservationCheck();
    const warmup = num("warmup", 5);
    if (warmup > 0) {
      console.log(`warming up: ${warmup} s of checkouts (not recorded)`);
      await runScenario(url, "checkout-random", 0, sizes, touched, { ...opts, duration: warmup });
    }
    for (let run = 1; run <= runs; run++) {
      for (const scenario of scenarios) {
        const result = await runScenario(url, scenario, run, sizes, touched, opts);
        if (scenario.startsWith("checkout") && !args.has("no-verify")) result.conservation = await conservation.run(api, touched);
        printResult(result);
        results.push(result);
      }
    }
  } finally {
    await api.close();
    await stack?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }

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
  const ratio = runRatios.length ? median(runRatios) : undefined;
  if (ratio !== undefined) {
    console.log(`  distinct checkouts / finds in the same run: ${(100 * ratio).toFixed(1)}% (runs: ${runRatios.map((r) => (100 * r).toFixed(1) + "%").join(", ")})`);
  }
  const maxServiceRss = Math.max(0, ...results.flatMap((r) => r.processes.filter((p) => /^(order|stock|payment)$/.test(p.name)).map((p) => p.maxRssMb)));
  console.log(`  largest service RSS: ${maxServiceRss} MB`);
  const violated = results.filter((r) => r.conservation && !r.conservation.ok);

  const record = {
    timestamp: new Date().toISOString(),
    commit: gitCommit(),
    machine: { cores: cpus().length, cpu: cpus()[0]?.model ?? "unknown", node: process.version },
    target: stack ? { local: layout } : { url },
    options: { ...sizes, ...opts, runs, scenarios, warmup: num("warmup", 5) },
    summary,
    distinctToFindRatio: ratio,
    maxServiceRssMb: maxServiceRss,
    results,
  };
  mkdirSync("bench-results", { recursive: true });
  const file = join("bench-results", `bench-${record.timestamp.replace(/[:.]/g, "-")}.json`);
  writeFileSync(file, JSON.stringify(record, null, 2));
  console.log(`\nwritten to ${file}`);

  if (args.has("compare")) {
    const old = JSON.parse(readFileSync(args.get("compare")!, "utf8")) as typeof record;
    console.log(`compared with ${args.get("compare")} (commit ${old.commit}):`);
    for (const s of summary) {
      const o = old.summary.find((x) => x.scenario === s.scenario);
      if (o) console.log(`  ${s.scenario.padEnd(18)} req/s x${(s.rps / o.rps).toFixed(2)}  p99 x${(s.p99 / o.p99).toFixed(2)}`);
    }
    if (ratio !== undefined && old.distinctToFindRatio) console.log(`  distinct/find ratio ${(100 * ratio).toFixed(1)}% vs ${(100 * old.distinctToFindRatio).toFixed(1)}%`);
  }
  if (violated.length) console.log(`CONSERVATION VIOLATED in ${violated.length} scenario run(s)`);
  return violated.length ? 1 : 0;
}

if (isMain(import.meta.url)) process.exit(await main());
