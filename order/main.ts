import { loadConfig } from "../common/config.js";
import { ServiceClient } from "../common/http.js";
import { RequestSigner } from "../common/internal-auth.js";
import { READINESS_PATH, startService } from "../common/server.js";
import { Orchestrator } from "../orchestrator/engine.js";
import { HttpParticipant, HttpTransport } from "../orchestrator/http-transport.js";
import { serveOperator } from "../orchestrator/operator.js";
import type { RetryPolicies } from "../orchestrator/retry.js";
import { checkoutTransaction } from "./checkout.js";
import { orderConfig } from "./config.js";
import { trackCheckoutBacklog, trackCheckoutsInFlight } from "./metrics.js";
import { Participants } from "./participants.js";
import { orderRoutes } from "./routes.js";
import { OrderStore } from "./store.js";

const config = loadConfig("order", orderConfig);
const store = new OrderStore(config);
const policies: RetryPolicies = {
  unknownOutcome: {
    name: "unknownOutcome",
    attempts: config.STEP_ATTEMPTS,
    deadlineMs: config.STEP_TIMEOUT_MS,
    backoffMs: 20,
    maxBackoffMs: 250,
    attemptTimeoutMs: config.STEP_ATTEMPT_TIMEOUT_MS,
  },
  answer: {
    name: "answer",
    attempts: Number.POSITIVE_INFINITY,
    deadlineMs: config.CHECKOUT_DEADLINE_MS,
    backoffMs: 20,
    maxBackoffMs: 250,
    attemptTimeoutMs: config.STEP_ATTEMPT_TIMEOUT_MS,
  },
  settlement: { name: "settlement", attempts: config.SETTLE_ATTEMPTS, deadlineMs: config.SETTLE_TIMEOUT_MS, backoffMs: 20 },
};
const clients = [
  new ServiceClient(config.STOCK_SERVICE_URL, { timeoutMs: config.STEP_ATTEMPT_TIMEOUT_MS, signer: new RequestSigner("stock", config.STOCK_INTERNAL_KEY) }),
  new ServiceClient(config.PAYMENT_SERVICE_URL, { timeoutMs: config.STEP_ATTEMPT_TIMEOUT_MS, signer: new RequestSigner("payment", config.PAYMENT_INTERNAL_KEY) }),
];
const breaker = { failures: config.BREAKER_FAILURES, halfOpenMs: config.BREAKER_HALF_OPEN_MS, failFastAfterMs: config.STEP_TIMEOUT_MS, probePath: READINESS_PATH };
const [stock, payment] = [new HttpParticipant("stock", clients[0]!, breaker), new HttpParticipant("payment", clients[1]!, breaker)];
const participants = new Participants(stock, payment, policies.unknownOutcome);
trackCheckoutBacklog(store.checkouts);

await startService({
  name: "order",
  config,
  shards: store.shards,
  mount: (app, log, tracer) => {
    const engine = new Orchestrator(
      checkoutTransaction,
      store.checkouts,
      new HttpTransport([stock, payment]),
      {
        protocol: config.TX_PROTOCOL,
        policies,
        leaseMs: config.CHECKOUT_LEASE_MS,
        maxInFlight: config.MAX_INFLIGHT_CHECKOUTS,
        confirmDelayMs: config.CONFIRM_DELAY_MS,
        park: { afterMs: config.PARK_AFTER_MS, retryMs: config.PARK_RETRY_MS },
        faultPoint: config.FAULT_POINT,
      },
      log,
      tracer,
    );
    trackCheckoutsInFlight(() => engine.inFlight);
    orderRoutes(app, store, participants, engine);
    serveOperator(app, engine);
    const stopRecovery = engine.startRecovery(config.RECOVERY_INTERVAL_MS);
    return [stopRecovery, ...clients.map((c) => () => c.close())];
  },
});
