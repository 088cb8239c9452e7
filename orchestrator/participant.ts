// The participant side of the engine: what a service that takes part in transactions serves, and
// the marker protocol that makes every phase idempotent and cancel final. A participant author
// reads this file first, then protocol.ts.
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { describeIssue, jsonBodyOr400 } from "../common/params.js";
import type { ScriptReply } from "../common/redis.js";
import type { Context } from "hono";
import type { ServiceApp, ServiceEnv } from "../common/server.js";
import { batchRoute, phaseRoute, TX_PROTOCOLS, type TxProtocol } from "./protocol.js";

/*
 * The marker protocol. A participant keeps, for each transaction and each entity it touches, one
 * marker key `<entity key>:tx:<tx>` in the entity's slot, written by the same script that changes
 * the entity. Its value is "<protocol>:<state>" (the protocol whose phase wrote it), the state:
 *
 *   "<n>"          held: the try took n (units of stock, credit); without an expiry while the
 *                  transaction is undecided, since a cancel must still find it however late it
 *                  comes
 *   "c"            confirmed: what the try took stays taken (a 2PC commit spends what it held)
 *   "x"            cancelled: the cancel gave back what the try took (or came first)
 *   "x:<reason>"   refused: the try took nothing, for <reason>
 *
 * Confirm and cancel are each final, and at most one of them takes effect: a cancel that finds
 * "c" changes nothing and answers `{'refused', 'confirmed'}`, a confirm that finds "x" changes
 * nothing. A try that finds a marker answers as the first call did ("<n>" or "c": done; "x":
 * refused `compensated`; "x:<reason>": refused <reason>), so a replay never applies twice. A
 * cancel that finds no marker writes "x", so a try arriving after it is refused. A phase never
 * acts on the other protocol's marker (refused `other_protocol`, nothing changed), and a phase for
 * nothing (no items, an amount of 0) writes nothing.
 *
 * Bounded state. A transaction id is a UUIDv7, so it carries its creation time, and a participant
 * accepts a try only within `TX_WINDOW_MS` of it (by the participant shard's own clock; see
 * `lua/includes/txMarker.lua`). The markers that hold nothing ("c", "x", "x:<reason>") are there
 * only to answer or refuse a try, so they expire once no try can be accepted any more, plus a
 * margin: what a finished transaction leaves behind lives minutes, not days.
 */

/**
 * A new transaction id: a UUIDv7 (RFC 9562: 48 bits of milliseconds, version 7, then random bits).
 * Made from Node's pooled randomUUID (a v4: the same variant and random layout) with the time in
 * front: a quarter of the time of the uuid package's v7 (0.4 against 1.7 µs here), on the checkout path.
 */
export function newTxId(atMs = Date.now()): string {
  const time = atMs.toString(16).padStart(12, "0");
  return `${time.slice(0, 8)}-${time.slice(8, 12)}-7${randomUUID().slice(15)}`;
}

/** Transaction ids as participants accept them: UUIDv7 only, so every id tells its age. */
export const txId = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, "must be a UUIDv7");

/** A transaction id's creation time in ms since the epoch. */
export function txTime(tx: string): number {
  return parseInt(tx.slice(0, 8) + tx.slice(9, 13), 16);
}

/** Refusals every participant may answer, whatever its own reasons. */
export const PROTOCOL_REFUSALS = [
  /** The transaction was cancelled here already (or the cancel came first). */
  "compensated",
  /** The id's time is not within the window of this participant's clock: too late to take part. */
  "expired",
  /** The transaction's marker here was written by the other protocol's phases: never acted on. */
  "other_protocol",
] as const;
export type ProtocolRefusal = (typeof PROTOCOL_REFUSALS)[number];

/**
 * A try's answer. 200 `done`: applied (or already applied). 409 `refused`: not applied and never
 * will be for this transaction, so it needs no cancel. Anything else, or no answer at all, means
 * the outcome is unknown and the coordinator must cancel.
 */
export type TryReply<Reason extends string = string> = { status: "done" } | { status: "refused"; reason: Reason };

/** A script's reply that this code does not know: a script and its store disagree, so fail loudly. */
export class UnexpectedReplyError extends Error {
  constructor(script: string, reply: ScriptReply) {
    super(`${script} replied ${JSON.stringify(reply)}, which is not in its contract`);
  }
}

/**
 * Decodes a try script's reply: `{done}` (the script's own word for it, e.g. 'reserved') or
 * `{'refused', reason}` with a reason from `reasons`. Anything else throws, so the coordinator sees
 * an unknown outcome and cancels, and the error is logged.
 */
export function decodeTry<Reason extends string>(script: string, done: string, reasons: readonly Reason[], reply: ScriptReply): TryReply<Reason> {
  const [status, reason] = Array.isArray(reply) ? reply : [];
  if (status === done && (reply as ScriptReply[]).length === 1) return { status: "done" };
  if (status === "refused" && reasons.includes(reason as Reason)) return { status: "refused", reason: reason as Reason };
  throw new UnexpectedReplyError(script, reply);
}

/** Why a cancel changed nothing: the transaction is confirmed here, or its marker is the other protocol's. */
export const CANCEL_REFUSALS = ["confirmed", "other_protocol"] as const;

/** A cancel that found its transaction final the other way: nothing changed, and it never will. */
export class CancelRefusedError extends Error {
  constructor(readonly reason: (typeof CANCEL_REFUSALS)[number]) {
    super(`cancel refused: ${reason}`);
  }
}

/**
 * Decodes a cancel or confirm script's reply, `{done, amount this call returned or spent}`; a
 * cancel's `{'refused', reason}` throws CancelRefusedError, anything else UnexpectedReplyError.
 */
export function decodeSettlement(script: string, done: string, reply: ScriptReply): number {
  const [status, value] = Array.isArray(reply) ? reply : [];
  if (status === done && typeof value === "number" && (reply as ScriptReply[]).length === 2) return value;
  if (status === "refused" && (CANCEL_REFUSALS as readonly unknown[]).includes(value)) throw new CancelRefusedError(value as (typeof CANCEL_REFUSALS)[number]);
  throw new UnexpectedReplyError(script, reply);
}

/** What one protocol's phases do at a participant. `Body` is the participant's part of a transaction. */
export interface PhaseHandlers<Body, Reason extends string> {
  try(part: { tx: string } & Body): Promise<TryReply<Reason>>;
  cancel(part: { tx: string } & Body): Promise<unknown>;
  /** Many transactions at once: the coordinator batches confirmations, which nobody waits for. */
  confirm(parts: Array<{ tx: string } & Body>): Promise<unknown>;
}

/** The most transactions one confirm call carries. */
export const MAX_CONFIRM_BATCH = 500;

/**
 * The most transactions one batched try or cancel carries: under 64 connections 12 % of batches
 * reached 33-64, and 64 tries of two-item orders are a 3 KB body (BENCHMARKS.md, issue 14).
 */
export const MAX_PHASE_BATCH = 64;

/**
 * One transaction's part of a batched answer: as the single route would answer it, `invalid`
 * when its own body is malformed (the single route's 400: nothing was run for it), or `unknown`
 * when its own script failed. The others' still count.
 */
export type BatchResult = TryReply | { status: "invalid"; error: string } | { status: "unknown" };

const done = { status: "done" } as const;

/**
 * Serves every phase of every protocol for a participant named `name` (its service name), on the
 * routes of protocol.ts. Bodies are `{tx, ...body}`, or for confirm `{txs: [{tx, ...body}, ...]}`;
 * anything else is a 400 that changes nothing. A cancel answers 200 done, or 409 refused (one of
 * CANCEL_REFUSALS) when the transaction is final the other way here.
 */
export function serveParticipant<Body extends object, Reason extends string>(
  app: ServiceApp,
  name: string,
  body: z.ZodObject<z.ZodRawShape>,
  handlers: Record<TxProtocol, PhaseHandlers<Body, Reason>>,
): void {
  const one = body.extend({ tx: txId });
  const batch = z.object({ txs: z.array(one).min(1).max(MAX_CONFIRM_BATCH) });
  // A batch is checked as a whole only for its shape; each member is checked on its own, so a
  // malformed one is refused alone and never decides its neighbours' outcomes.
  const phaseBatch = z.object({ txs: z.array(z.unknown()).min(1).max(MAX_PHASE_BATCH) });
  // A cancel's answer: done, or refused when the transaction is final the other way (never retried into a change).
  const cancel = (h: PhaseHandlers<Body, Reason>, part: { tx: string } & Body): Promise<TryReply> =>
    h.cancel(part).then(
      () => done,
      (err: unknown) => {
        if (err instanceof CancelRefusedError) return { status: "refused", reason: err.reason };
        throw err;
      },
    );
  // Each transaction's phase runs at once beside the others, so the store's Redis calls go out in
  // one write per shard (Shards corks the socket for the turn); a failure is that transaction's alone.
  const each = async (c: Context<ServiceEnv>, run: (part: { tx: string } & Body) => Promise<TryReply>) => {
    const { txs } = await jsonBodyOr400(c, phaseBatch);
    const results: BatchResult[] = await Promise.all(
      txs.map((member): Promise<BatchResult> => {
        const parsed = one.safeParse(member);
        if (!parsed.success) return Promise.resolve({ status: "invalid", error: describeIssue(parsed.error) });
        return run(parsed.data as { tx: string } & Body).catch(() => ({ status: "unknown" }));
      }),
    );
    return c.json({ results });
  };
  for (const protocol of TX_PROTOCOLS) {
    const h = handlers[protocol];
    app.serve("POST", phaseRoute(name, protocol, "try"), async (c) => {
      const reply = await h.try((await jsonBodyOr400(c, one)) as { tx: string } & Body);
      return c.json(reply, reply.status === "done" ? 200 : 409);
    });
    app.serve("POST", phaseRoute(name, protocol, "cancel"), async (c) => {
      const reply = await cancel(h, (await jsonBodyOr400(c, one)) as { tx: string } & Body);
      return c.json(reply, reply.status === "done" ? 200 : 409);
    });
    app.serve("POST", batchRoute(name, protocol, "try"), (c) => each(c, (part) => h.try(part)));
    app.serve("POST", batchRoute(name, protocol, "cancel"), (c) => each(c, (part) => cancel(h, part)));
    app.serve("POST", phaseRoute(name, protocol, "confirm"), async (c) => {
      const { txs } = (await jsonBodyOr400(c, batch)) as { txs: Array<{ tx: string } & Body> };
      await h.confirm(txs);
      return c.json(done);
    });
  }
}
