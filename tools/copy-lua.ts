// Build step (after tsc, which compiles TypeScript only): each service's Lua scripts, common's
// (Idempotency-Key records) and the bench's (tools/lua) are copied beside the compiled code, where
// they are loaded by name. The engine package copies its own (orchestrator/copy-lua.mjs).
import { cpSync, existsSync } from "node:fs";
import { SERVICES } from "../common/services.js";

for (const dir of [...SERVICES, "common", "tools"]) {
  if (existsSync(`${dir}/lua`)) cpSync(`${dir}/lua`, `dist/${dir}/lua`, { recursive: true });
}
