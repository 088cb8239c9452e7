// Sizing a compose deployment for a CPU budget (`npm run compose -- --cpus N`): how many Redis
// shards, instances per service and nginx workers, and each container's CPU limit, so that the
// whole deployment fits N CPUs and no part of it runs out of CPU before the others.
//
// The budget is shared out in proportion to what each part spends on a checkout, measured on this
// machine type (BENCHMARKS.md, "Sizing for a CPU budget"). Node services and Redis each run their
// work on one thread, so a part that needs more than about one core gets more processes. Redis
// memory is checked too: the markers a participant keeps grow with the rate, so a shard must hold
// those of the planned rate within its maxmemory.
import { DEFAULT_TX_WINDOW_MS } from "@shardshop/orchestrator";
import { perService, SERVICES, type Service } from "../common/services.js";

/**
 * µs of CPU per distinct checkout of each part of the shop, the median of three 15 s rounds of
 * `npm run bench -- --local --client wrk --runs 3 --duration 15` at 64 connections
 * (BENCHMARKS.md, "Current figures").
 */
export const CPU_PER_CHECKOUT_US = {
  instance: { order: 123, stock: 42, payment: 35 },
  redis: { order: 57, stock: 51, payment: 27 },
  gateway: 39,
} as const satisfies { instance: Record<Service, number>; redis: Record<Service, number>; gateway: number };

/**
 * The most of a core one process is planned to use. Below 1: a Node service also runs GC and
 * libuv threads beside its event loop, and Redis its AOF fsync thread, so a process limited to
 * exactly one core would be throttled while its main thread still had work.
 */
export const PLANNED_CORE_SHARE = 0.8;
/** Kept for the watchdog, which only waits on Docker events. */
export const WATCHDOG_CPUS = 0.1;
/** Instances per service at least, whatever the budget: one can restart while the other serves. */
export const MIN_REPLICAS = 2;

/**
 * Each Redis's maxmemory: past it a write is refused (noeviction: nothing is ever dropped; the shop
 * answers 503 "storage is full"), leaving the rest of its container's limit for the copy-on-write
 * of an AOF rewrite.
 */
export const REDIS_MAXMEMORY_MB = 384;
/**
 * Bytes a distinct checkout's transaction markers take on its participants' shards while they
 * live (`npm run residue`, BENCHMARKS.md "Marker state"); the order service keeps none.
 */
export const MARKER_BYTES_PER_CHECKOUT = { order: 0, stock: 366, payment: 191 } as const satisfies Record<Service, number>;
/** The most of a Redis's maxmemory the planned rate's markers may take; the rest is the shop's own data. */
export const MARKER_SHARE_OF_MAXMEMORY = 0.75;

/**
 * Bytes of markers each of a service's `shards` holds at a steady `checkoutsPerSecond`: a marker
 * that holds nothing lives until one window after the try window closes (txMarker.lua), two
 * windows from its transaction's start.
 */
export function markerBytesPerShard(checkoutsPerSecond: number, shards: number, windowMs = DEFAULT_TX_WINDOW_MS): Record<Service, number> {
  return perService((s) => (checkoutsPerSecond * MARKER_BYTES_PER_CHECKOUT[s] * 2 * windowMs) / 1000 / shards);
}
const MARKER_BUDGET_BYTES = REDIS_MAXMEMORY_MB * 2 ** 20 * MARKER_SHARE_OF_MAXMEMORY;

export interface ComposeLayout {
  /** Redis shards per service (every service has the same number). */
  shards: number;
  replicas: Record<Service, number>;
  /** nginx worker processes; "auto" is one per core the gateway sees. */
  gatewayWorkers: number | "auto";
  /**
   * Each service's Redis as a Redis Cluster: `shards` masters with this many replicas each,
   * instead of independent shards.
   */
  cluster?: { replicasPerMaster: number };
  /** Each container's CPU limit (Docker's `cpus`), when the layout was sized for a budget. */
  cpus?: { gateway: number; watchdog: number; instance: Record<Service, number>; redis: Record<Service, number> };
}

/** The same number of instances for every service, and no CPU limits. */
export function uniformLayout(shards: number, replicas: number): ComposeLayout {
  return { shards, replicas: perService(() => replicas), gatewayWorkers: "auto" };
}

/** The most a container's limit, up to 64 CPUs, loses to `composeLimit`'s rounding. */
export const LIMIT_ROUNDING_LOSS = 0.05;

/**
 * A CPU limit as written into a compose file: rounded down to hundredths, so that the limits never
 * add up to more than the budget, and then down a hundredth at a time (at most four below 64 CPUs)
 * to one that Compose v1 accepts: it refuses a value whose float times 10⁹ is not a whole number,
 * such as 2.07.
 */
export function composeLimit(cpus: number): number {
  let h = Math.floor(cpus * 100);
  while (h > 0 && !Number.isInteger((h / 100) * 1e9)) h--;
  return h / 100;
}
const processesFor = (cpus: number) => Math.max(1, Math.ceil(cpus / PLANNED_CORE_SHARE));

/**
 * The layout for a budget of `budget` CPUs, and the checkouts per second it is sized for: enough
 * shards for each service's Redis CPU, and for the markers of that rate (with a window of `windowMs`).
 */
export function layoutForCpus(budget: number, windowMs = DEFAULT_TX_WINDOW_MS): ComposeLayout & { plannedCheckoutsPerSecond: number } {
  const c = CPU_PER_CHECKOUT_US;
  const perCheckout = SERVICES.reduce<number>((sum, s) => sum + c.instance[s] + c.redis[s], c.gateway);
  const shared = budget - WATCHDOG_CPUS;
  if (!(shared > 0)) throw new Error(`--cpus must be more than ${WATCHDOG_CPUS}`);
  // Each part's share of the budget, in CPUs.
  const share = (us: number) => (shared * us) / perCheckout;
  const replicas = perService((s) => Math.max(MIN_REPLICAS, processesFor(share(c.instance[s]))));
  const plannedCheckoutsPerSecond = Math.floor((shared * 1e6) / perCheckout);
  const markers = markerBytesPerShard(plannedCheckoutsPerSecond, 1, windowMs);
  const shards = Math.max(...SERVICES.map((s) => Math.max(processesFor(share(c.redis[s])), Math.ceil(markers[s] / MARKER_BUDGET_BYTES))));
  const gatewayWorkers = processesFor(share(c.gateway));
  return {
    shards,
    replicas,
    gatewayWorkers,
    cpus: {
      gateway: composeLimit(share(c.gateway)),
      watchdog: WATCHDOG_CPUS,
      instance: perService((s) => composeLimit(share(c.instance[s]) / replicas[s])),
      redis: perService((s) => composeLimit(share(c.redis[s]) / shards)),
    },
    // Every part gets the same multiple of its per-checkout cost, so all saturate together.
    plannedCheckoutsPerSecond,
  };
}

/** What a layout's CPU limits add up to. */
export function totalCpus(layout: ComposeLayout): number {
  const l = layout.cpus;
  if (!l) return Infinity;
  const sum = l.gateway + l.watchdog + SERVICES.reduce((n, s) => n + l.instance[s] * layout.replicas[s] + l.redis[s] * layout.shards, 0);
  return Math.round(sum * 100) / 100;
}
