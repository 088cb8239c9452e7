// The participant's side over HTTP: the routes that serve every phase of every protocol, as plain
// handlers of a parsed JSON body, for the host to mount in its own framework (the shop mounts
// them on Hono, the example on node:http). Each answers as http/transport.ts reads it.
import { z } from "zod";
import { TX_ID_PATTERN } from "../ids.js";
import { CancelRefusedError, MAX_CONFIRM_BATCH, MAX_PHASE_BATCH, type BatchResult, type ParticipantHandlers, type PhaseHandlers, type TryReply } from "../participant.js";
import { TX_PROTOCOLS } from "../protocol.js";
import { batchRoute, phaseRoute } from "./routes.js";

/** Transaction ids as participants accept them: UUIDv7 only, so every id tells its age. */
export const txId = z.string().regex(TX_ID_PATTERN, "must be a UUIDv7");

/** One route: its path (always a POST), and its handler of the request's parsed JSON body. */
export interface PhaseRoute {
  path: string;
  handle(body: unknown): Promise<{ status: 200 | 400 | 409; body: object }>;
}

/** A validation error as one line naming the first offending field. */
export function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0]!;
  return `${issue.path.length ? `${issue.path.join(".")}: ` : ""}${issue.message}`;
}

const done = { status: "done" } as const;

/**
 * The routes of a participant named `name`, for every phase of every protocol (routes.ts). Bodies
 * are `{tx, ...part}` with the part checked by `part`, or for a batch (tries, cancels, confirms)
 * `{txs: [{tx, ...part}, ...]}`; anything else is a 400 that runs nothing. A try answers 200 done
 * or 409 refused; a cancel 200 done, or 409 refused (one of CANCEL_REFUSALS) when the transaction
 * is final the other way here. A handler's own failure is thrown: the host answers it 5xx, which
 * the coordinator reads as an unknown outcome.
 */
export function participantRoutes<Body extends object, Reason extends string>(
  name: string,
  part: z.ZodObject<z.ZodRawShape>,
  handlers: ParticipantHandlers<Body, Reason>,
): PhaseRoute[] {
  type Part = { tx: string } & Body;
  const one = part.extend({ tx: txId });
  const confirms = z.object({ txs: z.array(one).min(1).max(MAX_CONFIRM_BATCH) });
  // A batch is checked as a whole only for its shape; each member is checked on its own, so a
  // malformed one is refused alone and never decides its neighbours' outcomes.
  const phaseBatch = z.object({ txs: z.array(z.unknown()).min(1).max(MAX_PHASE_BATCH) });
  const invalid = (error: z.ZodError) => ({ status: 400 as const, body: { error: describeIssue(error) } });
  const answer = (reply: TryReply) => ({ status: reply.status === "done" ? (200 as const) : (409 as const), body: reply });
  // A cancel's answer: done, or refused when the transaction is final the other way (never retried into a change).
  const cancel = (h: PhaseHandlers<Body, Reason>, p: Part): Promise<TryReply> =>
    h.cancel(p).then(
      () => done,
      (err: unknown) => {
        if (err instanceof CancelRefusedError) return { status: "refused", reason: err.reason };
        throw err;
      },
    );
  const single = (run: (p: Part) => Promise<TryReply>) => async (body: unknown) => {
    const parsed = one.safeParse(body);
    return parsed.success ? answer(await run(parsed.data as Part)) : invalid(parsed.error);
  };
  // Each transaction's phase runs at once beside the others, so a store's Redis calls can go out
  // together; a failure is that transaction's alone.
  const batch = (run: (p: Part) => Promise<TryReply>) => async (body: unknown) => {
    const parsed = phaseBatch.safeParse(body);
    if (!parsed.success) return invalid(parsed.error);
    const results: BatchResult[] = await Promise.all(
      parsed.data.txs.map((member): Promise<BatchResult> => {
        const checked = one.safeParse(member);
        if (!checked.success) return Promise.resolve({ status: "invalid", error: describeIssue(checked.error) });
        return run(checked.data as Part).catch(() => ({ status: "unknown" }));
      }),
    );
    return { status: 200 as const, body: { results } };
  };
  return TX_PROTOCOLS.flatMap((protocol) => {
    const h = handlers[protocol];
    const tryPart = (p: Part) => h.try(p);
    const cancelPart = (p: Part) => cancel(h, p);
    return [
      { path: phaseRoute(name, protocol, "try"), handle: single(tryPart) },
      { path: phaseRoute(name, protocol, "cancel"), handle: single(cancelPart) },
      { path: batchRoute(name, protocol, "try"), handle: batch(tryPart) },
      { path: batchRoute(name, protocol, "cancel"), handle: batch(cancelPart) },
      {
        path: phaseRoute(name, protocol, "confirm"),
        handle: async (body: unknown) => {
          const parsed = confirms.safeParse(body);
          if (!parsed.success) return invalid(parsed.error);
          await h.confirm(parsed.data.txs as Part[]);
          return { status: 200 as const, body: done };
        },
      },
    ];
  });
}
