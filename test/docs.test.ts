// The API docs pages, in a real headless browser (Debian's chromium, driven by playwright-core)
// through the local stack's nginx gateway: each page renders every public operation of its
// service's OpenAPI document, and loads nothing from anywhere but the shop itself.
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { publicPrefix, SERVICES } from "../common/services.js";
import { launchChromium } from "./browser.js";
import { startTestStack, type TestStack } from "./helpers.js";

let stack: TestStack;
let browser: Browser;

beforeAll(async () => {
  stack = await startTestStack({ gateway: "nginx" });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await stack?.teardown();
});

describe.each(SERVICES)("the %s docs page", (service) => {
  it("lists every public operation, with only the shop's own assets", async () => {
    const prefix = publicPrefix(service);
    const spec = (await (await fetch(`${stack.url}${prefix}/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    const documented = Object.entries(spec.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
    expect(documented.length).toBeGreaterThan(0);

    const page = await browser.newPage();
    const requested: string[] = [];
    page.on("request", (r) => requested.push(r.url()));
    const failed: string[] = [];
    page.on("requestfailed", (r) => failed.push(r.url()));
    try {
      await page.goto(`${stack.url}${prefix}/docs`);
      await page.locator(".opblock").first().waitFor({ timeout: 20_000 });
      const rendered = await page.$$eval(".opblock-summary", (blocks) =>
        blocks.map((b) => {
          const method = b.querySelector(".opblock-summary-method")?.textContent?.trim() ?? "";
          const path = b.querySelector(".opblock-summary-path")?.getAttribute("data-path") ?? "";
          return `${method} ${path}`;
        }),
      );
      expect(rendered.sort()).toEqual(documented.sort());
      expect(await page.title()).toBe(`shardshop ${service} API`);
    } finally {
      await page.close();
    }
    expect(failed).toEqual([]);
    const origin = new URL(stack.url).origin;
    expect(requested.filter((url) => new URL(url).origin !== origin)).toEqual([]);
    expect(requested).toContain(`${stack.url}${prefix}/docs/swagger-ui-bundle.js`);
  });
});
