// The order service's own metrics: checkouts, saga steps, breakers and the recovery backlog.
import client from "prom-client";
import { FastHistogram } from "../common/metrics.js";
import type { OrderStore } from "./store.js";

export const checkoutDuration = new FastHistogram(
  "shardshop_checkout_duration_seconds",
  "Checkouts by outcome (committed, already_paid, aborted, rejected, not_found, empty) and reason " +
    "(aborted: stock, credit, unreachable; rejected: circuit_open, overloaded), with their duration",
  ["outcome", "reason"],
);

export const sagaStepDuration = new FastHistogram(
  "shardshop_saga_step_duration_seconds",
  "Saga calls to a participant by step and result (done, refused, unknown, not_sent), with their latency",
  ["participant", "step", "result"],
);

export const sagaStepRetries = new client.Counter({
  name: "shardshop_saga_step_retries_total",
  help: "Calls to a participant sent again after a failure (every call retried is idempotent)",
  labelNames: ["participant"] as const,
});

export const circuitBreakerState = new client.Gauge({
  name: "shardshop_circuit_breaker_state",
  help: "Per-participant circuit breaker: 0 closed, 1 open (failing fast), 2 half-open (probing)",
  labelNames: ["participant"] as const,
});

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

export const checkoutRecoveries = new client.Counter({
  name: "shardshop_checkout_recoveries_total",
  help: "Checkouts whose driver was gone, finished by this instance's recovery sweep",
});

/** Open checkout transactions per order shard, read at scrape time. */
export function trackCheckoutBacklog(store: OrderStore): void {
  new client.Gauge({
    name: "shardshop_checkout_transactions",
    help: "Checkout transactions recorded on an order shard: open (running or waiting) and expired (lease run out: waiting for recovery)",
    labelNames: ["shard", "state"] as const,
    async collect() {
      this.reset();
      await Promise.all(
        store.shards.clients.map(async (_, shard) => {
          // An unreachable shard has no figure; shardshop_redis_shard_up says why.
          const backlog = await store.checkoutBacklog(shard).catch(() => undefined);
          if (!backlog) return;
          this.set({ shard: String(shard), state: "open" }, backlog.open);
          this.set({ shard: String(shard), state: "expired" }, backlog.expired);
        }),
      );
    },
  });
}

/** How an abort reason is counted: by which participant said no, or that one could not be reached. */
export function abortCategory(reason: string): string {
  switch (reason) {
    case "insufficient_stock":
    case "unknown_item":
      return "stock";
    case "insufficient_credit":
    case "unknown_user":
      return "credit";
    case "unavailable":
      return "unreachable";
    default:
      return "other";
  }
}
