// Build step (after tsc, which compiles TypeScript only): each service's Lua scripts and common's
// (Idempotency-Key records) are copied beside the compiled code, where the stores load them by
// name. The engine package copies its own (orchestrator/copy-lua.mjs).
import { cpSync, existsSync } from "node:fs";
import { SERVICES } from "../common/services.js";

for (const dir of [...SERVICES, "common"]) {
  if (existsSync(`${dir}/lua`)) cpSync(`${dir}/lua`, `dist/${dir}/lua`, { recursive: true });
}
