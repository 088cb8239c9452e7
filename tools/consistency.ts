// `npm run consistency [-- --url URL] [--strict]`: the public benchmark's consistency test, same
// mechanics, in TypeScript. Exits non-zero when any figure is not 0.
//
// Basic: 1 item (price 1, stock 100), 1000 users (credit 1), 1000 one-unit orders for random
// users, all checked out at once with at most 100 in flight. As in the public test a 4xx counts
// as failed and anything else as succeeded, and the figures are read right after the last answer.
//
// Strict: 5 items (prices 1/2/5/10/20, limited stock), 2000 orders of 1-4 items, and a ledger per
// user and per item: an order is paid exactly when its stock and credit were taken.
import { helpFromHeader, isMain, parseArgs } from "./cli.js";
import { apiClient, mapLimit, seededRandom, type Api } from "./workload.js";

export interface Figures {
  stockLog: number;
  stockDb: number;
  paymentLog: number;
  paymentDb: number;
}

export interface ConsistencyReport {
  variant: "basic" | "strict";
  orders: number;
  succeeded: number;
  failed: number;
  statuses: Record<string, number>;
  figures: Figures;
  /** Strict only: every mismatch of the per-user and per-item ledger. */
  ledgerErrors: string[];
  ok: boolean;
}

export interface ConsistencyOptions {
  url: string;
  strict?: boolean;
  seed?: number;
  /** Checkouts in flight at once (the public test's client allows 100). */
  concurrency?: number;
  /** Called after the orders exist and before the checkouts start (the chaos run hooks in here). */
  beforeCheckouts?: () => void | Promise<void>;
}

export const must = async (answer: Promise<{ status: number; body: any }>, what: string) => {
  const { status, body } = await answer;
  if (status !== 200) throw new Error(`${what} answered ${status}: ${JSON.stringify(body)}`);
  return body;
};

export interface Plan {
  items: Array<{ id: string; price: number; stock: number }>;
  users: Array<{ id: string; credit: number }>;
  orders: Array<{ id: string; user: number; lines: Array<[number, number]>; total: number }>;
}

export async function populate(api: Api, strict: boolean, random: ReturnType<typeof seededRandom>, orderCount = strict ? 2000 : 1000): Promise<Plan> {
  const itemSpecs = strict
    ? [1, 2, 5, 10, 20].map((price, i) => ({ price, stock: [300, 200, 150, 100, 50][i]! }))
    : [{ price: 1, stock: 100 }];
  const items = await mapLimit(itemSpecs, 10, async (spec) => {
    const { item_id } = await must(api.postOnce(`/stock/item/create/${spec.price}`), "item/create");
    await must(api.postOnce(`/stock/add/${item_id}/${spec.stock}`), "stock/add");
    return { id: item_id as string, ...spec };
  });
  const userCount = 1000;
  const users = await mapLimit(Array.from({ length: userCount }), 100, async () => {
    const credit = strict ? 10 + random.int(60) : 1;
    const { user_id } = await must(api.postOnce("/payment/create_user"), "create_user");
    await must(api.postOnce(`/payment/add_funds/${user_id}/${credit}`), "add_funds");
    return { id: user_id as string, credit };
  });

  const specs = Array.from({ length: orderCount }, () => {
    const user = random.int(users.length);
    const lines = new Map<number, number>();
    const kinds = strict ? 1 + random.int(4) : 1;
    for (let k = 0; k < kinds; k++) {
      const item = strict ? random.int(items.length) : 0;
      lines.set(item, (lines.get(item) ?? 0) + (strict ? 1 + random.int(2) : 1));
    }
    const entries = [...lines];
    return { user, lines: entries, total: entries.reduce((sum, [i, q]) => sum + items[i]!.price * q, 0) };
  });
  const orders = await mapLimit(specs, 100, async (spec) => {
    const { order_id } = await must(api.postOnce(`/orders/create/${users[spec.user]!.id}`), "orders/create");
    for (const [i, q] of spec.lines) await must(api.postOnce(`/orders/addItem/${order_id}/${items[i]!.id}/${q}`), "addItem");
    return { id: order_id as string, ...spec };
  });
  return { items, users, orders };
}

export async function runConsistency(options: ConsistencyOptions): Promise<ConsistencyReport> {
  const strict = options.strict ?? false;
  const api = apiClient(options.url, 128);
  const random = seededRandom(options.seed ?? Date.now());
  try {
    const plan = await populate(api, strict, random);
    await options.beforeCheckouts?.();

    const statuses = await mapLimit(plan.orders, options.concurrency ?? 100, async (o) => (await api.post(`/orders/checkout/${o.id}`)).status);
    const succeeded = statuses.map((s) => !(s >= 400 && s < 500));
    const stocks = await mapLimit(plan.items, 10, async (i) => (await must(api.get(`/stock/find/${i.id}`), "stock/find")).stock as number);
    const credits = await mapLimit(plan.users, 100, async (u) => (await must(api.get(`/payment/find_user/${u.id}`), "find_user")).credit as number);

    // The public test's four figures, generalised to several items and prices.
    const startStock = plan.items.reduce((s, i) => s + i.stock, 0);
    const startCredit = plan.users.reduce((s, u) => s + u.credit, 0);
    const loggedUnits = plan.orders.reduce((s, o, k) => s + (succeeded[k] ? o.lines.reduce((n, [, q]) => n + q, 0) : 0), 0);
    const loggedSpent = plan.orders.reduce((s, o, k) => s + (succeeded[k] ? o.total : 0), 0);
    let figures: Figures;
    if (!strict) {
      // With one item of price 1 and 100 units, exactly 100 checkouts can succeed.
      const correctCredit = startCredit - startStock;
      figures = {
        stockLog: loggedUnits - startStock,
        stockDb: startStock - stocks[0]! - startStock,
        paymentLog: Math.abs(correctCredit - (startCredit - loggedSpent)),
        paymentDb: Math.abs(correctCredit - credits.reduce((a, b) => a + b, 0)),
      };
    } else {
      const soldInDb = startStock - stocks.reduce((a, b) => a + b, 0);
      const spentInDb = startCredit - credits.reduce((a, b) => a + b, 0);
      figures = {
        stockLog: loggedUnits - soldInDb,
        stockDb: Math.min(0, ...stocks),
        paymentLog: Math.abs(loggedSpent - spentInDb),
        paymentDb: Math.abs(Math.min(0, ...credits)),
      };
    }

    const ledgerErrors = strict ? await checkLedger(api, plan, succeeded, stocks, credits) : [];
    const failedCount = succeeded.filter((s) => !s).length;
    const histogram: Record<string, number> = {};
    for (const s of statuses) histogram[s] = (histogram[s] ?? 0) + 1;
    return {
      variant: strict ? "strict" : "basic",
      orders: plan.orders.length,
      succeeded: plan.orders.length - failedCount,
      failed: failedCount,
      statuses: histogram,
      figures,
      ledgerErrors,
      ok: Object.values(figures).every((f) => f === 0) && ledgerErrors.length === 0,
    };
  } finally {
    await api.close();
  }
}

/** Per user and per item: what the database says was taken equals what the paid orders hold. */
export async function checkLedger(api: Api, plan: Plan, succeeded: boolean[], stocks: number[], credits: number[]): Promise<string[]> {
  const errors: string[] = [];
  const paid = await mapLimit(plan.orders, 100, async (o) => (await must(api.get(`/orders/find/${o.id}`), "orders/find")).paid as boolean);
  const unitsSold = plan.items.map(() => 0);
  const spent = plan.users.map(() => 0);
  plan.orders.forEach((o, k) => {
    if (paid[k] !== succeeded[k]) errors.push(`order ${o.id}: answered ${succeeded[k] ? "success" : "failure"} but paid=${paid[k]}`);
    if (!paid[k]) return;
    for (const [i, q] of o.lines) unitsSold[i]! += q;
    spent[o.user]! += o.total;
  });
  plan.items.forEach((item, i) => {
    if (item.stock - stocks[i]! !== unitsSold[i]) errors.push(`item ${item.id}: ${item.stock - stocks[i]!} taken, paid orders hold ${unitsSold[i]}`);
  });
  plan.users.forEach((user, u) => {
    if (user.credit - credits[u]! !== spent[u]) errors.push(`user ${user.id}: ${user.credit - credits[u]!} taken, paid orders cost ${spent[u]}`);
  });
  return errors;
}

export function printReport(r: ConsistencyReport): void {
  console.log(`consistency (${r.variant}): ${r.orders} checkouts, ${r.succeeded} succeeded, ${r.failed} failed; statuses ${JSON.stringify(r.statuses)}`);
  console.log(`Stock service inconsistencies in the logs: ${r.figures.stockLog}`);
  console.log(`Stock service inconsistencies in the database: ${r.figures.stockDb}`);
  console.log(`Payment service inconsistencies in the logs: ${r.figures.paymentLog}`);
  console.log(`Payment service inconsistencies in the database: ${r.figures.paymentDb}`);
  if (r.variant === "strict") {
    console.log(`Ledger mismatches (orders, items, users): ${r.ledgerErrors.length}`);
    for (const e of r.ledgerErrors.slice(0, 20)) console.log(`  ${e}`);
  }
  console.log(r.ok ? "CONSISTENT" : "INCONSISTENT");
}

if (isMain(import.meta.url)) {
  const args = parseArgs(process.argv.slice(2));
  helpFromHeader(import.meta.url, args);
  const report = await runConsistency({
    url: args.get("url") ?? "http://localhost:8000",
    strict: args.has("strict"),
    seed: args.has("seed") ? Number(args.get("seed")) : undefined,
  });
  printReport(report);
  process.exit(report.ok ? 0 : 1);
}
