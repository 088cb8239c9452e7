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

/** Every phase's own name, in every protocol: a participant's phase scripts are named these. */
export const PHASE_NAMES = [...new Set(Object.values(PROTOCOLS).flatMap((phases) => Object.values(phases)))] as Array<(typeof PROTOCOLS)[TxProtocol][Phase]>;

/** A phase's own name in a protocol, e.g. `prepare`: it names routes, scripts' roles and metrics. */
export const phaseName = <P extends TxProtocol, Ph extends Phase>(protocol: P, phase: Ph): (typeof PROTOCOLS)[P][Ph] => PROTOCOLS[protocol][phase];

/** A record with one entry per protocol, made by `f`. */
export function perProtocol<T>(f: (protocol: TxProtocol) => T): Record<TxProtocol, T> {
  return Object.fromEntries(TX_PROTOCOLS.map((protocol) => [protocol, f(protocol)])) as Record<TxProtocol, T>;
}
