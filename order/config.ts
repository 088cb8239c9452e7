import { z } from "zod";
import { baseConfig, commaList, httpUrl, secretKey } from "../common/config.js";
import { DEFAULT_RETRY_POLICIES, ENGINE_DEFAULTS, TX_PROTOCOLS } from "@shardshop/orchestrator";
import { FAULT_POINTS } from "./checkout.js";

const { unknownOutcome, answer, settlement } = DEFAULT_RETRY_POLICIES;
const ms = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const origins = commaList(httpUrl.transform((u) => new URL(u).origin));

export const orderConfig = baseConfig.extend({
  /** One URL, or several (one per instance) to balance across. */
  STOCK_SERVICE_URL: origins,
  PAYMENT_SERVICE_URL: origins,
  /** The key each participant accepts on its internal routes (its INTERNAL_KEYS), which the order service signs its calls with. */
  STOCK_INTERNAL_KEY: secretKey,
  PAYMENT_INTERNAL_KEY: secretKey,
  /** The checkout's protocol: saga (default) or 2pc, two-phase commit. Running checkouts keep theirs. */
  TX_PROTOCOL: z.enum(TX_PROTOCOLS).default(ENGINE_DEFAULTS.protocol),
  /**
   * The unknown-outcome retry policy (tries, reads): how long one call to a participant is retried,
   * retries included, while it does not answer or answers 5xx; past it the outcome is unknown.
   * Long enough to ride out a participant (or its Redis) restarting within a few seconds.
   */
  STEP_TIMEOUT_MS: ms(50, 60_000).default(unknownOutcome.deadlineMs),
  /** The longest one attempt of a call to a participant waits for its answer before it is retried. */
  STEP_ATTEMPT_TIMEOUT_MS: ms(50, 60_000).default(unknownOutcome.attemptTimeoutMs!),
  /** The unknown-outcome policy's tries per call (all are idempotent), the first included; the backoff grows from 20 ms to 250 ms. */
  STEP_ATTEMPTS: z.coerce.number().int().min(1).max(1000).default(unknownOutcome.attempts),
  /**
   * How long a checkout request waits for its real outcome: the order shard's writes and the
   * compensations are retried until then (an abort is answered once they are applied). Past it a
   * checkout still undecided is answered 503. Below the gateway's 60 s proxy timeout.
   */
  CHECKOUT_DEADLINE_MS: ms(1000, 55_000).default(answer.deadlineMs),
  /** The settlement retry policy (confirms, and the recovery sweep's work on one checkout): total time per call. */
  SETTLE_TIMEOUT_MS: ms(50, 120_000).default(settlement.deadlineMs),
  /** The settlement policy's tries per call; past them the checkout is left to the next recovery sweep. */
  SETTLE_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(settlement.attempts),
  /** How long confirms wait to be sent together, one call per participant. */
  CONFIRM_DELAY_MS: ms(0, 1000).default(ENGINE_DEFAULTS.confirmDelayMs),
  /** Consecutive failed calls to a participant that open its circuit breaker. */
  BREAKER_FAILURES: z.coerce.number().int().min(1).max(1000).default(5),
  /**
   * How long an open breaker holds calls back before one probe call is let through. Checkouts are
   * refused fast only once the participant has been failing for STEP_TIMEOUT_MS; before that they
   * wait for it.
   */
  BREAKER_HALF_OPEN_MS: ms(50, 300_000).default(500),
  /** Checkouts one instance runs at once; beyond it they are answered 429 with Retry-After. */
  MAX_INFLIGHT_CHECKOUTS: z.coerce.number().int().min(1).max(100_000).default(ENGINE_DEFAULTS.maxInFlight),
  /**
   * How long a driver owns a checkout before another instance may take it over. Renewed while the
   * drive goes on, so it bounds how long the checkouts of a driver that died wait for another.
   */
  CHECKOUT_LEASE_MS: ms(100, 300_000).default(ENGINE_DEFAULTS.leaseMs),
  /** How often each instance looks for checkouts whose driver is gone. */
  RECOVERY_INTERVAL_MS: ms(50, 300_000).default(2000),
  /**
   * A checkout whose rollback or confirms still fail this long after it began is parked: an
   * operator sees it (npm run tx), the order answers 409 naming it, and the sweep retries it only
   * every PARK_RETRY_MS instead of every lease.
   */
  PARK_AFTER_MS: ms(1000, 7 * 24 * 3600_000).default(ENGINE_DEFAULTS.park.afterMs),
  PARK_RETRY_MS: ms(1000, 24 * 3600_000).default(ENGINE_DEFAULTS.park.retryMs),
  /** Test only: the order process kills itself at this point of the saga. */
  FAULT_POINT: z.string().refine((p) => FAULT_POINTS.includes(p), `one of ${FAULT_POINTS.join(", ")}`).optional(),
}).refine((c) => c.TX_WINDOW_MS > c.STEP_TIMEOUT_MS + c.CHECKOUT_LEASE_MS, {
  // Else a checkout whose driver died while retrying its tries would expire before another took it over.
  message: "must be longer than STEP_TIMEOUT_MS + CHECKOUT_LEASE_MS: a driver's tries, retried, then a takeover once its lease ends",
  path: ["TX_WINDOW_MS"],
  // Only once every variable is valid on its own: a bad one is named alone.
  when: (payload) => payload.issues.length === 0,
});

export type OrderConfig = z.infer<typeof orderConfig>;
