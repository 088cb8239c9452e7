// The routes a participant serves each phase on: named by the protocol's own phase names
// (protocol.ts), so route, metric label and script name agree, e.g. `/internal/stock/saga/step`.
import { phaseName, type Phase, type TxProtocol } from "../protocol.js";

/**
 * Internal routes live under this prefix, which no gateway routes. Participants add theirs with
 * `participantRoutes` (serve.ts); a host must refuse them from outside (the shop's gateways never
 * route them, and its services refuse calls that were proxied or are not signed).
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

