import { describe, expect, it } from "vitest";
import { SERVICES } from "../common/services.js";
import { DEFAULT_TX_WINDOW_MS } from "@shardshop/orchestrator";
import {
  composeLimit,
  CPU_PER_CHECKOUT_US,
  layoutForCpus,
  LIMIT_ROUNDING_LOSS,
  MARKER_BYTES_PER_CHECKOUT,
  MARKER_SHARE_OF_MAXMEMORY,
  markerBytesPerShard,
  MIN_REPLICAS,
  PLANNED_CORE_SHARE,
  REDIS_MAXMEMORY_MB,
  totalCpus,
  WATCHDOG_CPUS,
} from "./sizing.js";

const markerBudget = REDIS_MAXMEMORY_MB * 2 ** 20 * MARKER_SHARE_OF_MAXMEMORY;

describe("layoutForCpus", () => {
  it.each([2, 4, 8, 20, 64])("fits %i CPUs, with no process planned past its share of a core", (budget) => {
    const layout = layoutForCpus(budget);
    expect(totalCpus(layout)).toBeLessThanOrEqual(budget);
    // Rounding each limit down loses under LIMIT_ROUNDING_LOSS per container.
    const containers = 2 + 3 * layout.shards + SERVICES.reduce((n, s) => n + layout.replicas[s], 0);
    expect(totalCpus(layout)).toBeGreaterThan(budget - LIMIT_ROUNDING_LOSS * containers);
    const cpus = layout.cpus!;
    for (const s of SERVICES) {
      expect(layout.replicas[s]).toBeGreaterThanOrEqual(MIN_REPLICAS);
      expect(cpus.instance[s]).toBeLessThanOrEqual(PLANNED_CORE_SHARE);
      expect(cpus.redis[s]).toBeLessThanOrEqual(PLANNED_CORE_SHARE);
    }
    expect(cpus.gateway / (layout.gatewayWorkers as number)).toBeLessThanOrEqual(PLANNED_CORE_SHARE);
    expect(cpus.watchdog).toBe(WATCHDOG_CPUS);
  });

  it("gives each part CPU in proportion to what it spends on a checkout", () => {
    const layout = layoutForCpus(20);
    const cpus = layout.cpus!;
    // µs of CPU per planned checkout, short of the measured cost only by what rounding each of
    // `containers` limits down takes.
    const perCheckout = (cpu: number) => (cpu * 1e6) / layout.plannedCheckoutsPerSecond;
    const within = (limit: number, containers: number, us: number) => {
      expect(perCheckout(limit * containers)).toBeLessThanOrEqual(us);
      expect(perCheckout(limit * containers)).toBeGreaterThan(us - perCheckout(LIMIT_ROUNDING_LOSS * containers));
    };
    for (const s of SERVICES) {
      within(cpus.instance[s], layout.replicas[s], CPU_PER_CHECKOUT_US.instance[s]);
      within(cpus.redis[s], layout.shards, CPU_PER_CHECKOUT_US.redis[s]);
    }
    within(cpus.gateway, 1, CPU_PER_CHECKOUT_US.gateway);
    // The order service, the dearest part, gets the most instances.
    expect(layout.replicas.order).toBeGreaterThan(layout.replicas.stock);
  });

  it("writes only limits Compose v1 accepts (a whole number of nano-CPUs), at most LIMIT_ROUNDING_LOSS under the hundredths", () => {
    for (let hundredths = 1; hundredths <= 6400; hundredths++) {
      const wanted = hundredths / 100 + 0.005;
      const limit = composeLimit(wanted);
      expect(Number.isInteger(limit * 1e9), `${wanted} -> ${limit}`).toBe(true);
      expect(limit).toBeLessThanOrEqual(wanted);
      expect(limit).toBeGreaterThan(wanted - LIMIT_ROUNDING_LOSS);
    }
    // The one that showed it: 20 CPUs give the gateway 2.08 by share, which v1 refuses as 2.07.
    expect(composeLimit(2.079)).toBe(2.06);
    // Four steps down, the most there is below 64 CPUs.
    expect(composeLimit(8.06)).toBe(8.02);
  });

  it.each([2, 4, 8, 20, 64])("plans %i CPUs with room in every shard for the markers of its rate", (budget) => {
    const layout = layoutForCpus(budget);
    const markers = markerBytesPerShard(layout.plannedCheckoutsPerSecond, layout.shards);
    for (const s of SERVICES) expect(markers[s]).toBeLessThanOrEqual(markerBudget);
    expect(markers.stock).toBeGreaterThan(0);
  });

  it("adds shards when the markers of the planned rate would not fit, as a ten-minute window's would", () => {
    const cpuOnly = layoutForCpus(20);
    const longWindow = layoutForCpus(20, 20 * DEFAULT_TX_WINDOW_MS);
    expect(longWindow.plannedCheckoutsPerSecond).toBe(cpuOnly.plannedCheckoutsPerSecond);
    expect(longWindow.shards).toBeGreaterThan(cpuOnly.shards);
    // Just enough: the dearest service's markers fill each shard's budget, one shard fewer would overflow it.
    const rate = longWindow.plannedCheckoutsPerSecond;
    const stockAt = (shards: number) => markerBytesPerShard(rate, shards, 20 * DEFAULT_TX_WINDOW_MS).stock;
    expect(stockAt(longWindow.shards)).toBeLessThanOrEqual(markerBudget);
    expect(stockAt(longWindow.shards - 1)).toBeGreaterThan(markerBudget);
    // Two windows of each participant's bytes per checkout, spread over the shards.
    expect(markerBytesPerShard(1000, 2, 30_000)).toEqual({ order: 0, stock: (1000 * MARKER_BYTES_PER_CHECKOUT.stock * 60) / 2, payment: (1000 * MARKER_BYTES_PER_CHECKOUT.payment * 60) / 2 });
  });

  it("refuses a budget with nothing left once the watchdog has its share", () => {
    expect(() => layoutForCpus(WATCHDOG_CPUS)).toThrow(/--cpus/);
  });
});
