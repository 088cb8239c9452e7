// @shardshop/orchestrator: a small engine for distributed transactions (a saga or a two-phase
// commit) with a durable record, leases, recovery and batched participant calls. This is its
// front door; adapters live behind their own entry points:
//   @shardshop/orchestrator/redis    the record on Redis, and the participants' marker Lua
//   @shardshop/orchestrator/http     the HTTP transport, and the participant's routes
//   @shardshop/orchestrator/testing  in-memory fakes with scripted faults, and the storage conformance suite

// The engine, and what it runs.
export { Orchestrator, faultPoints, describeOutcomes, ENGINE_DEFAULTS, type EngineOptions, type TransactionDefinition, type TxOutcome, type AbortReason } from "./engine.js";
export { ENGINE_ABORT_REASONS, UNAVAILABLE, INVALID, EXPIRED, type EngineAbortReason } from "./decision.js";
export { PROTOCOLS, TX_PROTOCOLS, PHASE_NAMES, phaseName, perProtocol, type Phase, type TxProtocol } from "./protocol.js";

// Storage: the durable transaction record.
export type { TxLog, TxRecord, TxSnapshot, BeginMode, BeginResult, LogStatus } from "./log.js";

// Transport: how a phase reaches a participant.
export type { Transport, CallOutcome, ParticipantDefinition, PartSchema } from "./transport.js";
export { LocalTransport } from "./local-transport.js";

// Participants: what each phase answers, and the marker protocol behind it.
export {
  PROTOCOL_REFUSALS,
  CANCEL_REFUSALS,
  CancelRefusedError,
  MAX_CONFIRM_BATCH,
  MAX_PHASE_BATCH,
  type ProtocolRefusal,
  type TryReply,
  type PhaseHandlers,
  type ParticipantHandlers,
  type BatchResult,
} from "./participant.js";
export { newTxId, txTime, TX_ID_PATTERN, DEFAULT_TX_WINDOW_MS } from "./ids.js";

// Policies, with defaults.
export { DEFAULT_RETRY_POLICIES, withRetries, type RetryPolicy, type RetryPolicies, type RetryOptions } from "./retry.js";

// Grouping, as the engine batches by protocol and partition (the shop's Shards does too).
export { groupBy } from "./group.js";

// What the engine needs of its host: logging, tracing, metrics.
export { untracedContext, type TxContext, type TxLogger, type TxSpan, type BackgroundContext } from "./context.js";
export { engineMetrics, FastHistogram, Recorder, elapsedSeconds, type EngineMetrics, type EngineMetricNames, type EngineMetricsOptions } from "./metrics.js";
