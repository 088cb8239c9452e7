// Build step (after tsc, which compiles TypeScript only): each service's Lua scripts are copied
// beside its compiled code, where its store loads them by name.
import { cpSync, existsSync } from "node:fs";
import { SERVICES } from "../common/services.js";

for (const service of SERVICES) {
  if (existsSync(`${service}/lua`)) cpSync(`${service}/lua`, `dist/${service}/lua`, { recursive: true });
}
