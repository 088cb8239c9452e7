// The participants' marker protocol (orchestrator/participant.ts), proved on the real Lua scripts in
// real Redis by a model-based property test: fast-check generates sequences of try, cancel and
// confirm of both protocols for a few transactions (repeated, reordered, late past the window,
// strays with made-up ids that were never tried), runs each on the stock and payment stores over
// two redis-server shards, and after every step compares the replies, every marker and every
// counter with a small model, and checks what must hold whatever the model says:
//   - conservation: what the participants started with is what is available, plus what live
//     markers hold, plus what confirms said they confirmed;
//   - 2PC's held counters are the sum of the held 2PC markers;
//   - confirm and cancel are each final and at most one of them takes effect per transaction.
// MARKER_RUNS sets the number of sequences (BENCHMARKS.md notes a long run).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { baseConfig } from "../common/config.js";
import { shardIndexOf } from "../common/shards.js";
import { redisComponent, type Component } from "../local/stack.js";
import { CancelRefusedError, newTxId, TX_PROTOCOLS, type TxProtocol } from "@shardshop/orchestrator";
import { PaymentStore } from "../payment/store.js";
import { StockStore } from "../stock/store.js";

const WINDOW_MS = 600_000;
const RUNS = Number(process.env.MARKER_RUNS ?? 60);
const STOCK = 5;
const CREDIT = 10;

let dir: string;
let servers: Component[];
let redis: Redis[];
let stock: StockStore;
let payment: PaymentStore;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "markers-"));
  servers = [await redisComponent(dir, "r0", "shards"), await redisComponent(dir, "r1", "shards")];
  await Promise.all(servers.map((s) => s.start()));
  redis = servers.map((s) => new Redis({ port: s.port }));
  // The stores use no internal key; the configuration requires one.
  const config = baseConfig.parse({ REDIS_ADDRS: servers.map((s) => `127.0.0.1:${s.port}`).join(","), TX_WINDOW_MS: String(WINDOW_MS), LOG_LEVEL: "silent", INTERNAL_KEYS: "k".repeat(32) });
  stock = new StockStore(config);
  payment = new PaymentStore(config);
}, 30_000);
afterAll(async () => {
  await Promise.all([stock?.shards.close(), payment?.shards.close()]);
  for (const r of redis ?? []) r.disconnect();
  await Promise.all((servers ?? []).map((s) => s.stop()));
  rmSync(dir, { recursive: true, force: true });
});

/** An id on the given shard of two. */
function idOn(shard: number, prefix: string): string {
  for (let i = 0; ; i++) if (shardIndexOf(`${prefix}${i}`, 2) === shard) return `${prefix}${i}`;
}
const [A, B, GHOST] = [idOn(0, "a"), idOn(1, "b"), idOn(1, "ghost")];
const [USER, NOBODY] = [idOn(0, "u"), idOn(1, "nobody")];
const ITEMS = [A, B];

/** One transaction as both participants see it: its id, its protocol, its parts, and how old its id is. */
interface Tx {
  id: string;
  protocol: TxProtocol;
  items: Array<[string, number]>;
  user: string;
  amount: number;
  late: boolean;
}

// ---------------------------------------------------------------------------------------------
// The model: a marker per (entity, transaction) as the scripts write it, and the counters.
// ---------------------------------------------------------------------------------------------

class Model {
  markers = new Map<string, string>();
  stock = new Map<string, number>(ITEMS.map((i) => [i, STOCK]));
  held = new Map<string, number>(ITEMS.map((i) => [i, 0]));
  credit = CREDIT;
  heldCredit = 0;

  constructor(readonly txs: Tx[]) {}

  key = (entity: string, tx: Tx) => `${entity}|${tx.id}`;
  /** A marker's state if it is `protocol`'s, false if it is the other's, undefined if none. */
  state(entity: string, tx: Tx, protocol: TxProtocol): string | false | undefined {
    const m = this.markers.get(this.key(entity, tx));
    if (m === undefined) return undefined;
    const [p, ...rest] = m.split(":");
    return p === protocol ? rest.join(":") : false;
  }
  final(entity: string, tx: Tx, protocol: TxProtocol, state: string): void {
    if (tx.late) this.markers.delete(this.key(entity, tx));
    else this.markers.set(this.key(entity, tx), `${protocol}:${state}`);
  }
  replay(state: string): string {
    return state === "c" || /^\d+$/.test(state) ? "done" : `refused:${state.slice(2) || "compensated"}`;
  }

  /** Stock's try on one shard's group of items, as stockPhases.lua's stock_try. */
  stockTryGroup(tx: Tx, protocol: TxProtocol, group: Array<[string, number]>): string {
    const seen = this.state(group[0]![0], tx, protocol);
    if (seen === false) return "refused:other_protocol";
    if (seen !== undefined) return this.replay(seen);
    if (tx.late) return "refused:expired";
    let reason: string | undefined;
    for (const [item, q] of group) {
      if (!this.stock.has(item)) reason ??= "unknown_item";
      else if (this.stock.get(item)! < q) reason ??= "insufficient_stock";
      if (reason) break;
    }
    if (reason) {
      for (const [item] of group) this.final(item, tx, protocol, `x:${reason}`);
      return `refused:${reason}`;
    }
    for (const [item, q] of group) {
      this.stock.set(item, this.stock.get(item)! - q);
      if (protocol === "2pc") this.held.set(item, this.held.get(item)! + q);
      this.markers.set(this.key(item, tx), `${protocol}:${q}`);
    }
    return "done";
  }

  /** Stock's cancel on one group: its units given back, or the refusal (nothing changed). */
  stockCancelGroup(tx: Tx, protocol: TxProtocol, group: Array<[string, number]>): number | "refused" {
    const states = group.map(([item]) => this.state(item, tx, protocol));
    if (states.some((s) => s === false || s === "c")) return "refused";
    let returned = 0;
    group.forEach(([item], i) => {
      const held = /^\d+$/.test(String(states[i])) ? Number(states[i]) : undefined;
      if (held !== undefined) {
        this.stock.set(item, this.stock.get(item)! + held);
        if (protocol === "2pc") this.held.set(item, this.held.get(item)! - held);
        returned += held;
      }
      if (held !== undefined || states[i] === undefined) this.final(item, tx, protocol, "x");
    });
    return returned;
  }

  groups(tx: Tx): Array<Array<[string, number]>> {
    const byShard = new Map<number, Array<[string, number]>>();
    for (const line of tx.items) {
      const shard = shardIndexOf(line[0], 2);
      byShard.set(shard, [...(byShard.get(shard) ?? []), line]);
    }
    return [...byShard.values()];
  }

  /** StockStore.try: every group tries; a refusal on one cancels all when there are several. */
  stockTry(tx: Tx, protocol: TxProtocol): string {
    const groups = this.groups(tx);
    const replies = groups.map((g) => this.stockTryGroup(tx, protocol, g));
    const refused = replies.find((r) => r !== "done");
    if (!refused) return "done";
    if (groups.length > 1 && this.stockCancel(tx, protocol) === "cancel_refused") return "error";
    return refused;
  }

  stockCancel(tx: Tx, protocol: TxProtocol): number | "cancel_refused" {
    const returned = this.groups(tx).map((g) => this.stockCancelGroup(tx, protocol, g));
    return returned.includes("refused") ? "cancel_refused" : (returned as number[]).reduce((a, b) => a + b, 0);
  }

  stockConfirm(tx: Tx, protocol: TxProtocol): number {
    let confirmed = 0;
    for (const [item] of tx.items) {
      const s = this.state(item, tx, protocol);
      if (typeof s !== "string" || !/^\d+$/.test(s)) continue;
      if (protocol === "2pc") this.held.set(item, this.held.get(item)! - Number(s));
      this.final(item, tx, protocol, "c");
      confirmed += Number(s);
    }
    return confirmed;
  }

  /** creditPhases.lua's credit_try. */
  creditTry(tx: Tx, protocol: TxProtocol): string {
    const seen = this.state(tx.user, tx, protocol);
    if (seen === false) return "refused:other_protocol";
    if (seen !== undefined) return this.replay(seen);
    if (tx.late) return "refused:expired";
    const reason = tx.user !== USER ? "unknown_user" : this.credit < tx.amount ? "insufficient_credit" : undefined;
    if (reason) {
      if (tx.amount > 0) this.final(tx.user, tx, protocol, `x:${reason}`);
      return `refused:${reason}`;
    }
    if (tx.amount === 0) return "done";
    this.credit -= tx.amount;
    if (protocol === "2pc") this.heldCredit += tx.amount;
    this.markers.set(this.key(tx.user, tx), `${protocol}:${tx.amount}`);
    return "done";
  }

  creditCancel(tx: Tx, protocol: TxProtocol): number | "cancel_refused" {
    const s = this.state(tx.user, tx, protocol);
    if (s === false || s === "c") return "cancel_refused";
    const held = s !== undefined && /^\d+$/.test(s) ? Number(s) : undefined;
    if (held !== undefined) {
      this.credit += held;
      if (protocol === "2pc") this.heldCredit -= held;
    }
    if (held !== undefined || (s === undefined && tx.amount > 0)) this.final(tx.user, tx, protocol, "x");
    return held ?? 0;
  }

  creditConfirm(tx: Tx, protocol: TxProtocol): number {
    const s = this.state(tx.user, tx, protocol);
    if (typeof s !== "string" || !/^\d+$/.test(s)) return 0;
    if (protocol === "2pc") this.heldCredit -= Number(s);
    this.final(tx.user, tx, protocol, "c");
    return Number(s);
  }
}

// ---------------------------------------------------------------------------------------------
// The real side: the stores' calls, their answers in the model's words, and what confirms and
// cancels reported, for the invariants that do not trust the model.
// ---------------------------------------------------------------------------------------------

interface Real {
  /** Per participant and transaction: units or credit given back by cancels, and confirmed by confirms. */
  givenBack: Map<string, number>;
  confirmed: Map<string, number>;
}

type Participant = "stock" | "payment";
type Phase = "try" | "cancel" | "confirm";

async function runReal(participant: Participant, phase: Phase, protocol: TxProtocol, tx: Tx): Promise<string | number> {
  try {
    if (participant === "stock") {
      if (phase === "try") {
        const r = await stock.try(protocol, tx.id, tx.items);
        return r.status === "done" ? "done" : `refused:${r.reason}`;
      }
      if (phase === "cancel") return await stock.cancel(protocol, tx.id, tx.items);
      return await stock.confirm(protocol, [{ tx: tx.id, items: tx.items }]);
    }
    if (phase === "try") {
      const r = await payment.try(protocol, tx.id, tx.user, tx.amount);
      return r.status === "done" ? "done" : `refused:${r.reason}`;
    }
    if (phase === "cancel") return await payment.cancel(protocol, tx.id, tx.user, tx.amount);
    return await payment.confirm(protocol, [{ tx: tx.id, user_id: tx.user }]);
  } catch (err) {
    if (!(err instanceof CancelRefusedError)) throw err;
    // A stock try refused on one shard cancels the others; if one of those refuses, the try fails.
    return phase === "try" ? "error" : "cancel_refused";
  }
}

function runModel(model: Model, participant: Participant, phase: Phase, protocol: TxProtocol, tx: Tx): string | number {
  if (participant === "stock") {
    if (phase === "try") return model.stockTry(tx, protocol);
    if (phase === "cancel") return model.stockCancel(tx, protocol);
    return model.stockConfirm(tx, protocol);
  }
  if (phase === "try") return model.creditTry(tx, protocol);
  if (phase === "cancel") return model.creditCancel(tx, protocol);
  return model.creditConfirm(tx, protocol);
}

const shardOf = (id: string) => redis[shardIndexOf(id, 2)]!;

async function checkAgainst(model: Model, real: Real): Promise<void> {
  // Every marker, with its expiry: one that holds has none, one that holds nothing has one.
  let heldInMarkers = 0;
  let heldCreditInMarkers = 0;
  let heldCredit2pc = 0;
  const held2pc = new Map<string, number>(ITEMS.map((i) => [i, 0]));
  for (const tx of model.txs) {
    for (const [entity, key] of [...tx.items.map(([item]) => [item, `item:{${item}}:tx:${tx.id}`]), [tx.user, `user:{${tx.user}}:tx:${tx.id}`]] as Array<[string, string]>) {
      const r = shardOf(entity);
      const [value, ttl] = [await r.get(key), await r.pttl(key)];
      expect(value ?? undefined, key).toBe(model.markers.get(model.key(entity, tx)));
      if (value === null) continue;
      const [protocol, state] = value.split(":") as [TxProtocol, string];
      const holds = /^\d+$/.test(state);
      expect(ttl === -1, `${key} = ${value} expires only when it holds nothing`).toBe(holds);
      if (!holds) continue;
      if (key.startsWith("user:")) {
        heldCreditInMarkers += Number(state);
        if (protocol === "2pc") heldCredit2pc += Number(state);
      } else {
        heldInMarkers += Number(state);
        if (protocol === "2pc") held2pc.set(entity, held2pc.get(entity)! + Number(state));
      }
    }
  }
  const stocks = await Promise.all(ITEMS.map(async (item) => (await shardOf(item).hmget(`item:{${item}}`, "stock", "held")).map((v) => Number(v ?? 0))));
  const [credit, heldCredit] = [Number(await shardOf(USER).get(`user:{${USER}}`)), Number((await shardOf(USER).get(`user:{${USER}}:held`)) ?? 0)];
  expect(stocks).toEqual(ITEMS.map((item) => [model.stock.get(item), model.held.get(item)]));
  expect([credit, heldCredit]).toEqual([model.credit, model.heldCredit]);
  expect(await shardOf(GHOST).exists(`item:{${GHOST}}`)).toBe(0);

  // What holds whatever the model says. 2PC's held counters are its held markers' sum...
  expect(stocks.map(([, held]) => held)).toEqual(ITEMS.map((item) => held2pc.get(item)));
  expect(heldCredit).toBe(heldCredit2pc);
  // ...nothing is created or lost: available + held by markers + confirmed = what there was...
  const sum = (m: Map<string, number>, prefix: string) => [...m].filter(([k]) => k.startsWith(prefix)).reduce((s, [, v]) => s + v, 0);
  expect(stocks.reduce((s, [available]) => s + available!, 0) + heldInMarkers + sum(real.confirmed, "stock|")).toBe(STOCK * ITEMS.length);
  expect(credit + heldCreditInMarkers + sum(real.confirmed, "payment|")).toBe(CREDIT);
  // ...and per transaction, at most one of cancel and confirm ever took effect.
  for (const [k, given] of real.givenBack) if (given > 0) expect(real.confirmed.get(k) ?? 0, `${k} was given back and confirmed`).toBe(0);
}

class PhaseCommand implements fc.AsyncCommand<Model, Real> {
  private protocol: TxProtocol = "saga";

  constructor(
    readonly participant: Participant,
    readonly phase: Phase,
    /** Sent as the other protocol's phase than the transaction's own: a stray. */
    readonly otherProtocol: boolean,
    readonly tx: number,
  ) {}

  check(): boolean {
    return true;
  }

  async run(model: Model, real: Real): Promise<void> {
    // A command's transaction index wraps onto the transactions this sequence has.
    const tx = model.txs[this.tx % model.txs.length]!;
    this.protocol = this.otherProtocol ? TX_PROTOCOLS.find((p) => p !== tx.protocol)! : tx.protocol;
    const got = await runReal(this.participant, this.phase, this.protocol, tx);
    const want = runModel(model, this.participant, this.phase, this.protocol, tx);
    expect(got, this.toString()).toEqual(want);
    const k = `${this.participant}|${tx.id}`;
    if (this.phase === "cancel" && typeof got === "number") real.givenBack.set(k, (real.givenBack.get(k) ?? 0) + got);
    if (this.phase === "confirm" && typeof got === "number") real.confirmed.set(k, (real.confirmed.get(k) ?? 0) + got);
    await checkAgainst(model, real);
  }

  toString(): string {
    return `${this.participant} ${this.phase} tx${this.tx}${this.otherProtocol ? " (other protocol)" : ""}`;
  }
}

/** A few transactions: fresh ones over both items, one with an unknown item or user, one late past the window. */
const transactions = fc
  .array(
    fc.record({
      qa: fc.integer({ min: 1, max: 3 }),
      qb: fc.integer({ min: 1, max: 3 }),
      amount: fc.integer({ min: 0, max: 6 }),
      kind: fc.constantFrom("fresh", "fresh", "fresh", "ghost", "late"),
      protocol: fc.constantFrom(...TX_PROTOCOLS),
    }),
    { minLength: 2, maxLength: 4 },
  )
  .map((specs) =>
    specs.map(({ qa, qb, amount, kind, protocol }): Tx => ({
      id: newTxId(kind === "late" ? Date.now() - 2 * WINDOW_MS : Date.now()),
      protocol,
      items: kind === "ghost" ? [[A, qa], [GHOST, qb]] : [[A, qa], [B, qb]],
      user: kind === "ghost" ? NOBODY : USER,
      amount,
      late: kind === "late",
    })),
  );

const commands = fc.commands(
  [
    fc
      .tuple(fc.constantFrom<Participant>("stock", "payment"), fc.constantFrom<Phase>("try", "try", "cancel", "confirm"), fc.constantFrom(false, false, false, false, true), fc.nat(3))
      .map(([participant, phase, other, tx]) => new PhaseCommand(participant, phase, other, tx)),
  ],
  { maxCommands: 40, size: "max" },
);

describe("the marker protocol on the real scripts", () => {
  it(`matches its model and keeps every invariant over ${RUNS} random sequences of phases`, async () => {
    let sequences = 0;
    await fc.assert(
      fc.asyncProperty(transactions, commands, async (txs, cmds) => {
        await Promise.all(redis.map((r) => r.flushall()));
        for (const item of ITEMS) await shardOf(item).hset(`item:{${item}}`, "stock", STOCK, "price", 1);
        await shardOf(USER).set(`user:{${USER}}`, CREDIT);
        const model = new Model(txs);
        await fc.asyncModelRun(() => ({ model, real: { givenBack: new Map(), confirmed: new Map() } }), cmds);
        sequences++;
      }),
      { numRuns: RUNS },
    );
    expect(sequences).toBeGreaterThanOrEqual(RUNS);
    console.log(`marker protocol: ${sequences} sequences passed`);
  }, 600_000);
});
