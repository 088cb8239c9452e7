// The order service's own metrics: checkouts and the recovery backlog (the engine's are in
// orchestrator/metrics.ts).
import client from "prom-client";
import { FastHistogram } from "../common/metrics.js";
import type { RedisTxLog } from "../orchestrator/redis-log.js";

export const checkoutDuration = new FastHistogram(
  "shardshop_checkout_duration_seconds",
  "Checkouts by outcome (committed, already_paid, aborted, rejected, not_found, empty, too_many_lines, parked; unknown: undecided at the deadline) and reason " +
    "(aborted: stock, credit, unreachable, invalid, expired; rejected: circuit_open, overloaded), with their duration",
  ["outcome", "reason"],
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
