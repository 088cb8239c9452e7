// The import graph that the layout promises: what each part may load, read from the sources.
import { existsSync, readdirSync, readFileSync } from "node:fs";
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

  it("keeps the orchestrator a package of its own: nothing under orchestrator/ imports outside it, and the shop loads it by name only", () => {
    const sources = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.name === "dist" || e.name === "node_modules" ? [] : e.isDirectory() ? sources(join(dir, e.name)) : /\.(ts|mjs)$/.test(e.name) ? [join(dir, e.name)] : [],
      );
    const engine = sources("orchestrator");
    expect(engine.length).toBeGreaterThan(20);
    for (const file of engine) {
      for (const [, spec] of readFileSync(file, "utf8").matchAll(/^(?:import|export)\s[^;]*?\sfrom\s"([^"]+)"/gm)) {
        if (!spec!.startsWith(".")) continue;
        expect(normalize(join(dirname(file), spec!)).startsWith("orchestrator/"), `${file} imports ${spec}`).toBe(true);
      }
    }
    const declared = JSON.parse(readFileSync("orchestrator/package.json", "utf8")) as Record<"dependencies" | "peerDependencies" | "devDependencies", Record<string, string>>;
    // Its own name is the examples' way in, as a user's would be.
    const packages = new Set(engine.flatMap((file) => [...loads(file)].filter((m) => !existsSync(m) && !m.startsWith("node:") && m !== "@shardshop/orchestrator")));
    // Tests may load the package's dev dependencies; the rest only what it declares for its users.
    const loadedOutsideTests = new Set(engine.filter((f) => !f.endsWith(".test.ts")).flatMap((file) => [...loads(file)]));
    for (const name of packages) {
      const allowed = { ...declared.dependencies, ...declared.peerDependencies, ...(loadedOutsideTests.has(name) ? {} : declared.devDependencies) };
      expect(Object.keys(allowed), `${name}, loaded by the engine`).toContain(name);
    }
    for (const dir of ["common", "order", "stock", "payment", "local", "deploy", "tools", "test"]) {
      for (const file of sources(dir)) expect(readFileSync(file, "utf8"), file).not.toMatch(/from "(\.\.\/)+orchestrator\//);
    }
    expect(loads("order/main.ts").has("@shardshop/orchestrator")).toBe(true);
    for (const participant of ["stock", "payment"]) expect(loads(`${participant}/main.ts`).has("@shardshop/orchestrator"), participant).toBe(true);
  });

  it("lets the watchdog run from the image, which holds only dist/deploy/watchdog.js of deploy/", () => {
    const graph = [...loads("deploy/watchdog.ts")].filter((m) => m.endsWith(".ts") && m !== "deploy/watchdog.ts");
    expect(graph).toEqual([]);
  });
});
