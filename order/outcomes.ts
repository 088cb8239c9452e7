// Every way a checkout can end, and what it answers: the HTTP status, the error text, and the
// labels it is counted under. One table, keyed by the engine's typed vocabulary, so a new outcome
// that has no answer does not compile.
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { MAX_ORDER_LINES } from "../common/contract.js";
import type { AbortReason } from "@shardshop/orchestrator";
import type { CheckoutOutcome, CheckoutParticipantRefusal } from "./checkout.js";
import type { CheckoutRefusal } from "./store.js";

type OutcomeName = "committed" | "unknown" | "parked" | CheckoutRefusal | AbortReason<CheckoutParticipantRefusal> | "overloaded" | "circuit_open";

interface Answer {
  status: ContentfulStatusCode;
  /** The error body's text; none for a 2xx. */
  error?: (orderId: string, participant?: string) => string;
  /** Labels of shardshop_checkout_duration_seconds. */
  outcome: string;
  reason: string;
}

const rolledBack = (why: string) => () => `${why}; checkout rolled back`;

const CHECKOUT_ANSWERS = {
  committed: { status: 200, outcome: "committed", reason: "" },
  paid: { status: 200, outcome: "already_paid", reason: "" },
  not_found: { status: 404, error: (id) => `order ${id} not found`, outcome: "not_found", reason: "" },
  empty: { status: 400, error: () => "order has no items", outcome: "empty", reason: "" },
  too_many_lines: {
    status: 400,
    error: () => `order has more than ${MAX_ORDER_LINES} distinct items; remove some to check out`,
    outcome: "too_many_lines",
    reason: "",
  },
  insufficient_stock: { status: 400, error: rolledBack("not enough stock"), outcome: "aborted", reason: "stock" },
  unknown_item: { status: 400, error: rolledBack("the order holds an item that no longer exists"), outcome: "aborted", reason: "stock" },
  insufficient_credit: { status: 400, error: rolledBack("not enough credit"), outcome: "aborted", reason: "credit" },
  unknown_user: { status: 400, error: rolledBack("the order's user no longer exists"), outcome: "aborted", reason: "credit" },
  unavailable: { status: 424, error: rolledBack("stock or payment could not be reached"), outcome: "aborted", reason: "unreachable" },
  invalid: {
    status: 400,
    error: () => "stock or payment rejects the order as it is (malformed or too large); checkout rolled back",
    outcome: "aborted",
    reason: "invalid",
  },
  expired: { status: 424, error: rolledBack("the checkout took too long"), outcome: "aborted", reason: "expired" },
  overloaded: { status: 429, error: () => "too many checkouts in progress on this instance; nothing was changed", outcome: "rejected", reason: "overloaded" },
  // The only 5xx: the order shard stayed unreachable, or another instance still drove the checkout,
  // for the whole deadline. It finishes by itself; asking again answers its outcome.
  unknown: {
    status: 503,
    error: (id) => `the outcome of checking out order ${id} is not known yet; it will be finished by itself, and checking out again answers it`,
    outcome: "unknown",
    reason: "",
  },
  parked: {
    status: 409,
    error: (id) =>
      `the checkout of order ${id} is parked: its rollback kept failing, so the order cannot change until an operator retries or resolves it (npm run tx -- show ${id})`,
    outcome: "parked",
    reason: "",
  },
  circuit_open: {
    status: 424,
    error: (_, participant) => `${participant} service is unavailable (circuit open); nothing was changed`,
    outcome: "rejected",
    reason: "circuit_open",
  },
} as const satisfies Record<OutcomeName, Answer>;

export function answerOf(outcome: CheckoutOutcome): Answer {
  return CHECKOUT_ANSWERS[outcome.kind === "committed" || outcome.kind === "unknown" || outcome.kind === "parked" ? outcome.kind : outcome.reason];
}

/** A checkout answers 2xx if and only if the order is paid; a decided abort is always a 4xx; 503 only when undecided at the deadline. */
export function checkoutReply(orderId: string, outcome: CheckoutOutcome): [ContentfulStatusCode, object, Record<string, string>?] {
  const answer = answerOf(outcome);
  if (!answer.error) return [answer.status, outcome.kind === "refused" ? { order_id: orderId, paid: true, already_paid: true } : { order_id: orderId, paid: true }];
  const body = { error: answer.error(orderId, outcome.kind === "rejected" ? outcome.participant : undefined) };
  return outcome.kind === "rejected" ? [answer.status, body, { "Retry-After": String(outcome.retryAfter) }] : [answer.status, body];
}
