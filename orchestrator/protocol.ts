// The two protocols the engine runs, as data. Both have the same three phases; what differs is what
// a participant does in each, and so what its state says between them:
//
//   phase     saga                                   2pc
//   try       step: applies at once (stock is gone)  prepare: sets aside (held, not yet spent)
//   cancel    compensate: gives back what it took   abort: gives back what it set aside
//   confirm   forget: nothing to do but forget       commit: spends what it set aside
//
// A try is followed by exactly one of cancel (the decision was abort) or confirm (commit). Every
// phase is idempotent by transaction id, and cancel is final: a try that arrives after it is refused.

export const PROTOCOLS = {
  saga: { try: "step", cancel: "compensate", confirm: "forget" },
  "2pc": { try: "prepare", cancel: "abort", confirm: "commit" },
} as const satisfies Record<string, Record<Phase, string>>;

export type TxProtocol = keyof typeof PROTOCOLS;
export type Phase = "try" | "cancel" | "confirm";

export const TX_PROTOCOLS = Object.keys(PROTOCOLS) as [TxProtocol, ...TxProtocol[]];

/** A phase's own name in a protocol, e.g. `prepare`: it names routes, scripts' roles and metrics. */
export const phaseName = (protocol: TxProtocol, phase: Phase): string => PROTOCOLS[protocol][phase];

/**
 * Internal routes live under this prefix, which no gateway routes. Participants add theirs with
 * `ServiceApp.serve` (see participant.ts), which refuses proxied calls.
 */
export const INTERNAL_PREFIX = "/internal/";

/** The route a participant serves a phase of a protocol on, e.g. `/internal/stock/2pc/prepare`. */
export const phaseRoute = (participant: string, protocol: TxProtocol, phase: Phase): string =>
  `${INTERNAL_PREFIX}${participant}/${protocol}/${phaseName(protocol, phase)}`;

/**
 * The route that takes many transactions' tries or cancels in one call (`{txs: [...]}`), answered
 * `{results: [...]}` in the same order, one per transaction; e.g. `/internal/stock/saga/step/batch`.
 */
export const batchRoute = (participant: string, protocol: TxProtocol, phase: Exclude<Phase, "confirm">): string => `${phaseRoute(participant, protocol, phase)}/batch`;

/** A record with one entry per protocol, made by `f`. */
export function perProtocol<T>(f: (protocol: TxProtocol) => T): Record<TxProtocol, T> {
  return Object.fromEntries(TX_PROTOCOLS.map((protocol) => [protocol, f(protocol)])) as Record<TxProtocol, T>;
}
