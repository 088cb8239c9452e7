// The operator's side of the engine: internal routes the order service serves for checkouts,
// which `npm run tx` calls. They list open and parked transactions, show
// one, and retry or resolve a parked one. Like every internal route, the gateway never routes them.
import { HTTPException } from "hono/http-exception";
import { z } from "zod";
import { id, parseOr400 } from "../common/params.js";
import type { ServiceApp } from "../common/server.js";
import { txTime, type TxOutcome, type TxSnapshot } from "@shardshop/orchestrator";
import { INTERNAL_PREFIX } from "@shardshop/orchestrator/http";

/** What the routes need of the engine (Orchestrator has it). */
export interface TransactionOperator {
  transactions(limit: number): Promise<TxSnapshot[]>;
  transaction(subject: string): Promise<TxSnapshot | undefined>;
  retry(subject: string): Promise<{ outcome: TxOutcome<string, string>; open: TxSnapshot | undefined } | "not_parked">;
  resolve(subject: string): Promise<"resolved" | "not_parked">;
}

export const OPERATOR_ROUTE = `${INTERNAL_PREFIX}transactions`;

/** A record as the routes answer it: ages and waits in ms from now, as this instance's clock tells them. */
export function describeTransaction(t: TxSnapshot, now = Date.now()) {
  return {
    subject: t.subject,
    tx: t.id,
    protocol: t.protocol,
    state: t.state,
    reason: t.reason,
    parked: t.parked,
    age_ms: now - txTime(t.id),
    lease_left_ms: t.leaseEnd - now,
    owner: t.owner,
    failures: t.failures,
    last_outcomes: t.lastError,
  };
}

const limit = z.coerce.number().int().min(1).max(10_000).default(100);
const subjectOf = (param: string | undefined) => parseOr400(id, param);
const notParked = (subject: string) => new HTTPException(409, { message: `${subject} has no parked transaction` });

export function serveOperator(app: ServiceApp, engine: TransactionOperator): void {
  app.serve("GET", OPERATOR_ROUTE, async (c) => {
    const transactions = await engine.transactions(parseOr400(limit, c.req.query("limit")));
    const now = Date.now();
    return c.json({ open: transactions.length, parked: transactions.filter((t) => t.parked).length, transactions: transactions.map((t) => describeTransaction(t, now)) });
  });
  app.serve("GET", `${OPERATOR_ROUTE}/:subject`, async (c) => {
    const subject = subjectOf(c.req.param("subject"));
    const open = await engine.transaction(subject);
    if (!open) throw new HTTPException(404, { message: `${subject} has no open transaction` });
    return c.json(describeTransaction(open));
  });
  app.serve("POST", `${OPERATOR_ROUTE}/:subject/retry`, async (c) => {
    const subject = subjectOf(c.req.param("subject"));
    const retried = await engine.retry(subject);
    if (retried === "not_parked") throw notParked(subject);
    return c.json({ subject, outcome: retried.outcome, closed: !retried.open, ...(retried.open ? { open: describeTransaction(retried.open) } : {}) });
  });
  app.serve("POST", `${OPERATOR_ROUTE}/:subject/resolve`, async (c) => {
    const subject = subjectOf(c.req.param("subject"));
    if ((await engine.resolve(subject)) === "not_parked") throw notParked(subject);
    return c.json({ subject, resolved: true });
  });
}
