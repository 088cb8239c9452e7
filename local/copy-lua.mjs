// Build step: tsc compiles TypeScript only, so the Lua scripts are copied beside the compiled code.
import { cpSync, existsSync } from "node:fs";

for (const service of ["order", "stock", "payment"]) {
  if (existsSync(`${service}/lua`)) cpSync(`${service}/lua`, `dist/${service}/lua`, { recursive: true });
}
