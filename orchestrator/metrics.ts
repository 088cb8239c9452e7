// The engine's metrics: calls to participants by phase, retries, breakers, recoveries. Names keep
// the `saga_step` prefix they had before the engine ran two protocols, so dashboards still work;
// the step label is the phase's own name (step, compensate, forget, prepare, commit, abort).
import client from "prom-client";
import { FastHistogram } from "../common/metrics.js";

export const participantCallDuration = new FastHistogram(
  "shardshop_saga_step_duration_seconds",
  "Calls to a participant by phase (step) and result (done, refused, invalid, unknown, not_sent), with their latency",
  ["participant", "step", "result"],
);

export const participantCallRetries = new client.Counter({
  name: "shardshop_saga_step_retries_total",
  help: "Calls to a participant sent again after a failure (every call retried is idempotent)",
  labelNames: ["participant"] as const,
});

export const circuitBreakerState = new client.Gauge({
  name: "shardshop_circuit_breaker_state",
  help: "Per-participant circuit breaker: 0 closed, 1 open (failing fast), 2 half-open (probing)",
  labelNames: ["participant"] as const,
});

export const transactionRecoveries = new client.Counter({
  name: "shardshop_checkout_recoveries_total",
  help: "Transactions whose driver was gone, finished by this instance's recovery sweep",
});

export const participantBatchSize = new client.Histogram({
  name: "shardshop_saga_step_batch_size",
  help: "Tries or cancels sent to a participant in one request (coalesced in one event-loop turn)",
  labelNames: ["participant", "step"] as const,
  buckets: [1, 2, 4, 8, 16, 32, 64],
});
