// The transport for participants in the same process: each phase is a call of the participant's
// handlers, retried by the engine's policy while it throws. For examples, tests and hosts whose
// participants' state lives in shared storage anyway (the handlers run scripts on it).
import type { TxContext } from "./context.js";
import { CancelRefusedError, type ParticipantHandlers, type TryReply } from "./participant.js";
import type { Phase, TxProtocol } from "./protocol.js";
import { withRetries, type RetryPolicy } from "./retry.js";
import type { CallOutcome, Transport } from "./transport.js";

export class LocalTransport implements Transport {
  /** Participants by name, each with its handlers for every protocol. */
  constructor(private readonly participants: Record<string, ParticipantHandlers<never, string>>) {}

  send(participant: string, protocol: TxProtocol, phase: Exclude<Phase, "confirm">, body: object, policy: RetryPolicy, _ctx: TxContext, until?: number): Promise<CallOutcome> {
    const h = this.participants[participant]![protocol];
    const part = body as never;
    const call = (): Promise<TryReply> =>
      phase === "try"
        ? h.try(part)
        : h.cancel(part).then(
            () => ({ status: "done" }) as const,
            (err: unknown) => {
              if (err instanceof CancelRefusedError) return { status: "refused", reason: err.reason } as const;
              throw err;
            },
          );
    return withRetries(policy, call, () => true, { until }).then(
      (reply): CallOutcome => (reply.status === "done" ? { kind: "done" } : { kind: "refused", reason: reply.reason }),
      (): CallOutcome => ({ kind: "unknown" }),
    );
  }

  async confirm(participant: string, protocol: TxProtocol, bodies: object[], policy: RetryPolicy): Promise<boolean> {
    const h = this.participants[participant]![protocol];
    return withRetries(policy, () => h.confirm(bodies as never[]), () => true).then(
      () => true,
      () => false,
    );
  }

  failingFast(): undefined {
    return undefined;
  }
}
