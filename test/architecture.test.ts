// The import graph that the layout promises: what each part may load, read from the sources.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import { describe, expect, it } from "vitest";

/** Every module `entry` loads, directly or not: project files by path, packages by name. */
function loads(entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const source = readFileSync(file, "utf8");
    for (const [, spec] of source.matchAll(/^(?:import|export)\s(?!type\s)[^;]*?\sfrom\s"([^"]+)"/gm)) {
      if (!spec!.startsWith(".")) {
        seen.add(spec!.startsWith("@") ? spec!.split("/").slice(0, 2).join("/") : spec!.split("/")[0]!);
        continue;
      }
      const target = normalize(join(dirname(file), spec!.replace(/\.js$/, ".ts")));
      if (existsSync(target)) visit(target);
    }
  };
  visit(entry);
  return seen;
}

describe("the import graph", () => {
  it("keeps the local gateway free of the service stack (hono, the metrics registry)", () => {
    const gateway = loads("local/gateway.ts");
    expect(gateway.has("common/malformed.ts")).toBe(true);
    for (const heavy of ["hono", "@hono/zod-openapi", "prom-client", "common/server.ts", "common/metrics.ts"]) expect(gateway.has(heavy), heavy).toBe(false);
  });

  it("keeps each service apart from the others, and the services apart from the tools and deployments", () => {
    for (const service of ["order", "stock", "payment"]) {
      const graph = [...loads(`${service}/main.ts`)];
      const foreign = graph.filter((m) => /^(order|stock|payment)\//.test(m) && !m.startsWith(`${service}/`));
      expect(foreign, service).toEqual([]);
      expect(graph.filter((m) => /^(local|deploy|tools|test)\//.test(m)), service).toEqual([]);
    }
  });

  it("keeps the orchestrator a separate artifact: it loads no service, tool or deployment, and each service loads it", () => {
    for (const module of ["engine", "redis-log", "http-transport", "participant"]) {
      const graph = [...loads(`orchestrator/${module}.ts`)];
      expect(graph.filter((m) => /^(order|stock|payment|local|deploy|tools|test)\//.test(m)), module).toEqual([]);
    }
    expect(loads("order/main.ts").has("orchestrator/engine.ts")).toBe(true);
    for (const participant of ["stock", "payment"]) expect(loads(`${participant}/main.ts`).has("orchestrator/participant.ts"), participant).toBe(true);
  });

  it("lets the watchdog run from the image, which holds only dist/deploy/watchdog.js of deploy/", () => {
    const graph = [...loads("deploy/watchdog.ts")].filter((m) => m.endsWith(".ts") && m !== "deploy/watchdog.ts");
    expect(graph).toEqual([]);
  });
});
