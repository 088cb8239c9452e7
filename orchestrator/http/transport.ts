// The engine's transport over HTTP: each phase is a POST to the participant's route for it
// (protocol.ts), retried by the policy the engine passes, through a circuit breaker per participant.
// Reads that are not part of a transaction use `read`: retried too, but never through the breaker,
// since they change nothing and failing them fast would only delay the probe that closes it.
import { BrokenCircuitError, circuitBreaker, CircuitState, ConsecutiveBreaker, handleWhen } from "cockatiel";
import type { TxContext } from "../context.js";
import { elapsedSeconds, type EngineMetrics, type Recorder } from "../metrics.js";
import { MAX_PHASE_BATCH, type TryReply } from "../participant.js";
import { perProtocol, PHASE_NAMES, phaseName, type Phase, type TxProtocol } from "../protocol.js";
import { withRetries, type RetryPolicy } from "../retry.js";
import type { CallOutcome, Transport } from "../transport.js";
import { Coalescer } from "./coalescer.js";
import type { ParticipantClient, ParticipantReply } from "./client.js";
import { batchRoute, phaseRoute } from "./routes.js";

/**
 * A participant's breaker keeps calls off a participant that keeps failing, and tells a short
 * outage from a long one. Short (failing for less than `failFastAfterMs`): a try waits, retrying
 * within its policy, for a probe to find the participant back, and new transactions start and wait
 * the same way, so a restart of a few seconds costs latency and no aborts. Long (failing for
 * `failFastAfterMs`, or a try already gave up on it): new transactions are refused before they
 * start, until a probe succeeds.
 */
export interface BreakerOptions {
  /** Consecutive failed calls that open a participant's breaker. */
  failures: number;
  /** How long an open breaker holds calls back before letting one probe call through. */
  halfOpenMs: number;
  /** How long a participant must have been failing (its breaker open) before new work is refused fast. */
  failFastAfterMs: number;
  /**
   * A GET route that answers 2xx only while the participant can serve (its readiness): while new
   * work is refused, the breaker's probe is a call to it, so no transaction waits on the probe.
   */
  probePath: string;
}

/** A participant's 5xx answer: it could not do its part now (e.g. its Redis did not answer). */
class ParticipantFailure extends Error {}
/** No attempt so far reached the participant (no connection could be made): retried, and if it stays so, not sent. */
class NeverSent extends Error {}

const failedAnswer = (reply: ParticipantReply) => reply.status >= 500;
const RESULTS: Array<CallOutcome["kind"]> = ["done", "refused", "invalid", "unknown", "not_sent"];
/**
 * The answers that reject a call itself (malformed, too large): the participant applied nothing
 * and will answer the same body the same way, so they are final. Other 4xx are retried.
 */
const REJECTIONS = new Set([400, 413, 422]);

const BREAKER_GAUGE: Record<CircuitState, number> = {
  [CircuitState.Closed]: 0,
  [CircuitState.Open]: 1,
  [CircuitState.Isolated]: 1,
  [CircuitState.HalfOpen]: 2,
};

/** One participant: its client, its breaker, its latency recorders. */
export class HttpParticipant {
  private readonly breaker;
  private openedAt = 0;
  /** When the breaker opened from closed: the participant has been failing since; undefined while closed. */
  private failingSince: number | undefined;
  /** A try gave up on the participant during this outage: it has outlasted a try's retry budget. */
  private outlastedATry = false;
  private probing = false;
  /** A latency recorder per phase name and result, resolved once. */
  private readonly recorders: Record<string, Record<CallOutcome["kind"], Recorder>>;
  /** Each protocol's routes, built once. */
  private readonly routes: Record<TxProtocol, Record<Phase, string>>;
  /** Each protocol's tries and cancels, coalesced per event-loop turn (coalescer.ts). */
  private readonly coalescers: Record<TxProtocol, Record<"try" | "cancel", Coalescer>>;

  constructor(
    readonly name: string,
    private readonly client: ParticipantClient,
    private readonly options: BreakerOptions,
    private readonly metrics: EngineMetrics,
  ) {
    this.breaker = circuitBreaker(
      handleWhen((err) => !(err instanceof BrokenCircuitError)).orWhenResult((reply) => failedAnswer(reply as ParticipantReply)),
      { halfOpenAfter: options.halfOpenMs, breaker: new ConsecutiveBreaker(options.failures) },
    );
    this.routes = perProtocol((protocol) => ({
      try: phaseRoute(name, protocol, "try"),
      cancel: phaseRoute(name, protocol, "cancel"),
      confirm: phaseRoute(name, protocol, "confirm"),
    }));
    const coalescer = (protocol: TxProtocol, phase: "try" | "cancel") => {
      const one = this.routes[protocol][phase];
      const many = batchRoute(name, protocol, phase);
      const c = new Coalescer(
        {
          one: (options) => this.client.request("POST", one, options),
          many: (txs, options) => this.client.request("POST", many, { ...options, body: { txs } }),
        },
        MAX_PHASE_BATCH,
      );
      c.onBatch = (size) => metrics.batchSize.observe({ participant: name, step: phaseName(protocol, phase) }, size);
      return c;
    };
    this.coalescers = perProtocol((protocol) => ({ try: coalescer(protocol, "try"), cancel: coalescer(protocol, "cancel") }));
    this.breaker.onBreak(() => {
      this.openedAt = Date.now();
      this.failingSince ??= this.openedAt;
    });
    this.breaker.onReset(() => {
      this.failingSince = undefined;
      this.outlastedATry = false;
    });
    this.breaker.onStateChange((state) => metrics.breakerState.set({ participant: name }, BREAKER_GAUGE[state]));
    metrics.breakerState.set({ participant: name }, 0);
    const byResult = (phase: string) => Object.fromEntries(RESULTS.map((r) => [r, metrics.callDuration.recorder(name, phase, r)]));
    this.recorders = Object.fromEntries(PHASE_NAMES.map((phase) => [phase, byResult(phase)])) as typeof this.recorders;
  }

  /**
   * Seconds a client should wait before asking again, when new work is refused now: the breaker is
   * open and the participant has been failing for `failFastAfterMs`, or for longer than a try
   * waited for it. Refused work is never the probe: once the half-open delay has passed, the
   * breaker probes the participant's readiness itself. 0 when new work may start.
   */
  failingFastFor(): number {
    if (this.failingSince === undefined) return 0;
    if (!this.outlastedATry && Date.now() - this.failingSince < this.options.failFastAfterMs) return 0;
    const state = this.breaker.state;
    if (state === CircuitState.Closed) return 0;
    const left = this.openedAt + this.options.halfOpenMs - Date.now();
    if (state === CircuitState.Open && left <= 0) this.probe();
    return Math.max(1, Math.ceil(left / 1000));
  }

  /** The breaker's probe while new work is refused: its readiness, once at a time. */
  private probe(): void {
    if (this.probing) return;
    this.probing = true;
    this.breaker
      .execute(() => this.client.request("GET", this.options.probePath, { timeoutMs: Math.max(this.options.halfOpenMs, 1000) }))
      .catch(() => {})
      .finally(() => (this.probing = false));
  }

  /** A read, retried by `policy`; throws when there is no usable answer. */
  read<T>(path: string, policy: RetryPolicy, ctx: TxContext): Promise<ParticipantReply<T>> {
    return this.send(false, "GET", path, policy, ctx);
  }

  /**
   * A phase of a transaction: its outcome, timed; never throws. Tries go through the breaker; a
   * cancel or confirm never does, since it settles work already sent and must get through.
   */
  async phase(protocol: TxProtocol, phase: Phase, body: unknown, policy: RetryPolicy, ctx: TxContext, until?: number): Promise<CallOutcome> {
    const start = performance.now();
    let outcome: CallOutcome;
    try {
      const coalescer = phase === "confirm" ? undefined : this.coalescers[protocol][phase];
      outcome = toOutcome(await this.send<TryReply>(phase === "try", "POST", this.routes[protocol][phase], policy, ctx, body, until, coalescer));
    } catch (err) {
      outcome = err instanceof NeverSent || err instanceof BrokenCircuitError ? NOT_SENT : UNKNOWN;
      if (phase === "try" && this.failingSince !== undefined) this.outlastedATry = true;
    }
    this.recorders[phaseName(protocol, phase)]![outcome.kind].observe(elapsedSeconds(start));
    return outcome;
  }

  /**
   * Sends (through the breaker when `guarded`), and again after a transient failure (no answer, or
   * a 5xx) as `policy` allows. 4xx answers are the participant's decisions, and a healthy
   * participant's: they never count against its breaker. Throws when there is no usable answer.
   */
  private send<T>(
    guarded: boolean,
    method: "GET" | "POST",
    path: string,
    policy: RetryPolicy,
    ctx: TxContext,
    body?: unknown,
    until?: number,
    coalescer?: Coalescer,
  ): Promise<ParticipantReply<T>> {
    const span = ctx.span.startCall(method, path);
    const headers = ctx.callHeaders(span);
    // Whether any attempt may have reached the participant: if none did, the call was not sent.
    let reached = false;
    // Promise chains rather than async functions: this runs twice per checkout, and each async
    // frame costs.
    const attempt = (n: number, timeoutMs: number | undefined): Promise<ParticipantReply<T>> => {
      const options = { body, headers, timeoutMs };
      const request = coalescer ? () => coalescer.call<T>(options) : () => this.client.request<T>(method, path, options);
      const sent = guarded ? this.breaker.execute(request) : request();
      return sent.then(
        (reply) => {
          if (!failedAnswer(reply)) return reply;
          reached = true;
          throw new ParticipantFailure(`${this.name} answered ${reply.status}`);
        },
        (err: unknown) => {
          // The breaker opened after an earlier attempt went out, and that one may have been
          // applied: the outcome is unknown (so the phase is cancelled), never "not sent".
          if (err instanceof BrokenCircuitError && reached) throw new ParticipantFailure(`${this.name}: circuit opened after ${n - 1} attempt(s) were sent`);
          if (err instanceof BrokenCircuitError) throw err;
          if (!this.client.neverSent(err)) reached = true;
          else if (!reached) throw new NeverSent(`${this.name}: no connection could be made`, { cause: err });
          throw err;
        },
      );
    };
    const onRetry = () => this.metrics.callRetries.inc({ participant: this.name });
    // An open breaker is retried too: the retry waits, within the policy, for a probe to close it.
    return withRetries(policy, attempt, () => true, { onRetry, until }).then(
      (reply) => {
        span.end(reply.status);
        return reply;
      },
      (err: unknown) => {
        span.end(undefined, err as Error);
        throw err;
      },
    );
  }
}

const DONE: CallOutcome = { kind: "done" };
const UNKNOWN: CallOutcome = { kind: "unknown" };
const NOT_SENT: CallOutcome = { kind: "not_sent" };

function toOutcome({ status, body }: ParticipantReply<TryReply>): CallOutcome {
  if (status === 200 && body?.status === "done") return DONE;
  if (status === 409 && body?.status === "refused" && typeof body.reason === "string") return { kind: "refused", reason: body.reason };
  if (REJECTIONS.has(status)) return { kind: "invalid", error: errorOf(body) ?? `answered ${status}` };
  return UNKNOWN;
}

const errorOf = (body: unknown): string | undefined =>
  typeof body === "object" && body !== null && typeof (body as { error?: unknown }).error === "string" ? (body as { error: string }).error : undefined;

/** The transport over a set of HTTP participants, by name. */
export class HttpTransport implements Transport {
  private readonly byName: Map<string, HttpParticipant>;

  constructor(readonly participants: HttpParticipant[]) {
    this.byName = new Map(participants.map((p) => [p.name, p]));
  }

  send(participant: string, protocol: TxProtocol, phase: Exclude<Phase, "confirm">, body: object, policy: RetryPolicy, ctx: TxContext, until?: number): Promise<CallOutcome> {
    return this.byName.get(participant)!.phase(protocol, phase, body, policy, ctx, until);
  }

  async confirm(participant: string, protocol: TxProtocol, bodies: object[], policy: RetryPolicy, ctx: TxContext): Promise<boolean> {
    const outcome = await this.byName.get(participant)!.phase(protocol, "confirm", { txs: bodies }, policy, ctx);
    // Rejected as a whole (too large, say): each half on its own, so no transaction waits on its neighbours.
    if (outcome.kind === "invalid" && bodies.length > 1) {
      const half = Math.ceil(bodies.length / 2);
      const sent = await Promise.all([this.confirm(participant, protocol, bodies.slice(0, half), policy, ctx), this.confirm(participant, protocol, bodies.slice(half), policy, ctx)]);
      return sent.every(Boolean);
    }
    return outcome.kind === "done";
  }

  failingFast(): { participant: string; retryAfter: number } | undefined {
    for (const p of this.participants) {
      const retryAfter = p.failingFastFor();
      if (retryAfter > 0) return { participant: p.name, retryAfter };
    }
    return undefined;
  }
}
