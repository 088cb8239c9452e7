// The order service's metrics: checkouts, the recovery backlog, and the engine's (made here, on
// the service's registry).
import { engineMetrics, FastHistogram } from "@shardshop/orchestrator";
import type { RedisTxLog } from "@shardshop/orchestrator/redis";
import client from "prom-client";
import { registry } from "../common/metrics.js";

/**
 * The engine's metrics, under the names the dashboards and alerts were built on (from before the
 * engine ran two protocols: a `step` label holds any phase's name).
 */
export const checkoutEngineMetrics = () =>
  engineMetrics({
    registry,
    names: {
      callDuration: "shardshop_saga_step_duration_seconds",
      callRetries: "shardshop_saga_step_retries_total",
      breakerState: "shardshop_circuit_breaker_state",
      batchSize: "shardshop_saga_step_batch_size",
      recoveries: "shardshop_checkout_recoveries_total",
    },
  });

export const checkoutDuration = new FastHistogram(
  "shardshop_checkout_duration_seconds",
  "Checkouts by outcome (committed, already_paid, aborted, rejected, not_found, empty, too_many_lines, parked; unknown: undecided at the deadline) and reason " +
    "(aborted: stock, credit, unreachable, invalid, expired; rejected: circuit_open, overloaded), with their duration",
  ["outcome", "reason"],
  registry,
);

/** Read at scrape time, so a checkout pays nothing for it. */
export function trackCheckoutsInFlight(read: () => number): void {
  new client.Gauge({
    name: "shardshop_checkouts_in_flight",
    help: "Checkouts this instance is running now",
    collect() {
      this.set(read());
    },
  });
}

/** Open checkout transactions per order shard (in cluster mode, per sweep group of 1024 slots), read at scrape time. */
export function trackCheckoutBacklog(log: RedisTxLog<unknown, string>): void {
  new client.Gauge({
    name: "shardshop_checkout_transactions",
    help:
      "Checkout transactions recorded on an order shard: open (running, or decided and waiting for its cancels or confirms), expired (lease run out: waiting for recovery) " +
      "and parked (its cancels or confirms kept failing: an operator should look, npm run tx -- list)",
    labelNames: ["shard", "state"] as const,
    async collect() {
      this.reset();
      await Promise.all(
        Array.from({ length: log.sweepGroups }, async (_, group) => {
          // An unreachable shard has no figure; shardshop_redis_shard_up says why.
          const backlog = await log.backlog(group).catch(() => undefined);
          if (!backlog) return;
          this.set({ shard: String(group), state: "open" }, backlog.open);
          this.set({ shard: String(group), state: "expired" }, backlog.expired);
          this.set({ shard: String(group), state: "parked" }, backlog.parked);
        }),
      );
    },
  });
}
