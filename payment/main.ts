import { baseConfig, loadConfig } from "../common/config.js";
import { startService } from "../common/server.js";
import { paymentRoutes } from "./routes.js";
import { PaymentStore } from "./store.js";

const config = loadConfig("payment", baseConfig);
const store = new PaymentStore(config);
await startService({ name: "payment", config, shards: store.shards, mount: (app) => paymentRoutes(app, store) });
