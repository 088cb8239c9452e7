// The Lua scripts beside the compiled JS that loads them (redis/scripts.ts reads ./lua/ relative to itself).
import { cpSync } from "node:fs";

cpSync(new URL("./redis/lua/", import.meta.url), new URL("./dist/redis/lua/", import.meta.url), { recursive: true });
