// The HTTP adapter: the coordinator's transport (a client and a breaker per participant, tries and
// cancels batched), and the participant's routes to mount in any framework.
export { HttpParticipant, HttpTransport, type BreakerOptions } from "./transport.js";
export type { CallOptions, ParticipantClient, ParticipantReply } from "./client.js";
export { participantRoutes, txId, describeIssue, type PhaseRoute } from "./serve.js";
export { INTERNAL_PREFIX, phaseRoute, batchRoute } from "./routes.js";
