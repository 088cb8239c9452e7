import { baseConfig, loadConfig } from "../common/config.js";
import { startService } from "../common/server.js";
import { stockRoutes } from "./routes.js";
import { StockStore } from "./store.js";

const config = loadConfig("stock", baseConfig);
const store = new StockStore(config);
await startService({ name: "stock", config, shards: store.shards, mount: (app) => stockRoutes(app, store) });
