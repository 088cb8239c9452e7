import { loadConfig } from "../common/config.js";
import { ServiceClient } from "../common/http.js";
import { backgroundContext } from "../common/tracing.js";
import { RequestSigner } from "../common/internal-auth.js";
import { READINESS_PATH, startService } from "../common/server.js";
import { DEFAULT_RETRY_POLICIES, Orchestrator, type RetryPolicies } from "@shardshop/orchestrator";
import { HttpParticipant, HttpTransport } from "@shardshop/orchestrator/http";
import { serveOperator } from "./operator.js";
import { checkoutTransaction } from "./checkout.js";
import { orderConfig } from "./config.js";
import { checkoutEngineMetrics, trackCheckoutBacklog, trackCheckoutsInFlight } from "./metrics.js";
import { Participants } from "./participants.js";
import { orderRoutes } from "./routes.js";
import { OrderStore } from "./store.js";

const config = loadConfig("order", orderConfig);
const store = new OrderStore(config);
// The engine's policies, with the deadlines and attempts this deployment configures.
const { unknownOutcome, answer, settlement } = DEFAULT_RETRY_POLICIES;
const policies: RetryPolicies = {
  unknownOutcome: { ...unknownOutcome, attempts: config.STEP_ATTEMPTS, deadlineMs: config.STEP_TIMEOUT_MS, attemptTimeoutMs: config.STEP_ATTEMPT_TIMEOUT_MS },
  answer: { ...answer, deadlineMs: config.CHECKOUT_DEADLINE_MS, attemptTimeoutMs: config.STEP_ATTEMPT_TIMEOUT_MS },
  settlement: { ...settlement, attempts: config.SETTLE_ATTEMPTS, deadlineMs: config.SETTLE_TIMEOUT_MS },
};
const clients = [
  new ServiceClient(config.STOCK_SERVICE_URL, { timeoutMs: config.STEP_ATTEMPT_TIMEOUT_MS, signer: new RequestSigner("stock", config.STOCK_INTERNAL_KEY) }),
  new ServiceClient(config.PAYMENT_SERVICE_URL, { timeoutMs: config.STEP_ATTEMPT_TIMEOUT_MS, signer: new RequestSigner("payment", config.PAYMENT_INTERNAL_KEY) }),
];
trackCheckoutBacklog(store.checkouts);

await startService({
  name: "order",
  config,
  shards: store.shards,
  mount: (app, log, tracer) => {
    const metrics = checkoutEngineMetrics();
    const breaker = { failures: config.BREAKER_FAILURES, halfOpenMs: config.BREAKER_HALF_OPEN_MS, failFastAfterMs: config.STEP_TIMEOUT_MS, probePath: READINESS_PATH };
    const [stock, payment] = [new HttpParticipant("stock", clients[0]!, breaker, metrics), new HttpParticipant("payment", clients[1]!, breaker, metrics)];
    const engine = new Orchestrator({
      definition: checkoutTransaction,
      log: store.checkouts,
      transport: new HttpTransport([stock, payment]),
      protocol: config.TX_PROTOCOL,
      policies,
      leaseMs: config.CHECKOUT_LEASE_MS,
      maxInFlight: config.MAX_INFLIGHT_CHECKOUTS,
      confirmDelayMs: config.CONFIRM_DELAY_MS,
      park: { afterMs: config.PARK_AFTER_MS, retryMs: config.PARK_RETRY_MS },
      metrics,
      logger: log,
      background: (name) => backgroundContext(tracer, name, log),
      onFaultPoint: (point) => point === config.FAULT_POINT && process.kill(process.pid, "SIGKILL"),
    });
    trackCheckoutsInFlight(() => engine.running);
    orderRoutes(app, store, new Participants(stock, payment, policies.unknownOutcome), engine);
    serveOperator(app, engine);
    const stopRecovery = engine.startRecovery(config.RECOVERY_INTERVAL_MS);
    return [stopRecovery, ...clients.map((c) => () => c.close())];
  },
});
