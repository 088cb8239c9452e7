import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: {
    // The shop's tests load the engine package from its sources, as its own tests do: one copy of
    // each module, and no build needed for the unit tests.
    alias: [{ find: /^@shardshop\/orchestrator(\/[a-z]+)?$/, replacement: fileURLToPath(new URL("./orchestrator$1/index.ts", import.meta.url)) }],
  },
  test: {
    include: ["**/*.test.ts"],
    exclude: ["**/node_modules/**", "**/dist/**"],
    // Each integration file starts its own Redis shards and service processes; on a 2-core
    // machine running them one file at a time keeps every file's timing realistic.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
