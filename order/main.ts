import { loadConfig } from "../common/config.js";
import { ServiceClient } from "../common/http.js";
import { startService } from "../common/server.js";
import { Checkout } from "./checkout.js";
import { orderConfig } from "./config.js";
import { trackCheckoutBacklog, trackCheckoutsInFlight } from "./metrics.js";
import { Participant, Participants } from "./participants.js";
import { orderRoutes } from "./routes.js";
import { OrderStore } from "./store.js";

const config = loadConfig("order", orderConfig);
const store = new OrderStore(config);
const stock = new ServiceClient(config.STOCK_SERVICE_URL, { timeoutMs: config.STEP_TIMEOUT_MS });
const payment = new ServiceClient(config.PAYMENT_SERVICE_URL, { timeoutMs: config.STEP_TIMEOUT_MS });
const resilience = {
  deadlineMs: config.STEP_TIMEOUT_MS,
  attempts: config.STEP_ATTEMPTS,
  breakerFailures: config.BREAKER_FAILURES,
  breakerHalfOpenMs: config.BREAKER_HALF_OPEN_MS,
};
const participants = new Participants(new Participant("stock", stock, resilience), new Participant("payment", payment, resilience));
trackCheckoutBacklog(store);

await startService({
  name: "order",
  config,
  shards: store.shards,
  mount: (app, log, tracer) => {
    const checkout = new Checkout(
      store,
      participants,
      { leaseMs: config.CHECKOUT_LEASE_MS, maxInFlight: config.MAX_INFLIGHT_CHECKOUTS, faultPoint: config.FAULT_POINT },
      log,
      tracer,
    );
    trackCheckoutsInFlight(() => checkout.inFlight);
    orderRoutes(app, store, participants, checkout);
    const stopRecovery = checkout.startRecovery(config.RECOVERY_INTERVAL_MS);
    return [stopRecovery, () => stock.close(), () => payment.close()];
  },
});
