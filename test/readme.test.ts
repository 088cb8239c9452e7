// The README's layout section is the map a newcomer reads first: it must name what the tree holds.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const readme = readFileSync("README.md", "utf8");
const layout = /## Layout\n+```\n([\s\S]*?)```/.exec(readme)![1]!;

describe("the README's layout section", () => {
  it("names every top-level folder of the repository, and only folders that exist", () => {
    const tracked = execFileSync("git", ["ls-files"], { encoding: "utf8" }).split("\n").filter((f) => f.includes("/"));
    const folders = [...new Set(tracked.map((f) => f.slice(0, f.indexOf("/"))))];
    for (const folder of folders) expect(layout, folder).toMatch(new RegExp(`(^|[\\s,])${folder.replace(".", "\\.")}/`, "m"));
    for (const [, named] of layout.matchAll(/^(\S+)\/\s/gm)) expect(existsSync(named!), named).toBe(true);
  });

  it("names every module of common/", () => {
    const modules = readdirSync("common").filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"));
    for (const module of modules) expect(layout, module).toContain(module);
  });
});
