// The Swagger UI page of a service's API, served entirely by the service itself (swagger-ui-dist):
// no CDN, so the docs work on an air-gapped cluster or a laptop offline.
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { Env, Hono } from "hono";

const DIST = dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));

/** The only files the page needs, and their types: nothing else of the package is ever read. */
const ASSETS: Record<string, string> = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
  "favicon-32x32.png": "image/png",
};

const page = (title: string, base: string, spec: string) => `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>${title}</title>
  <link rel="stylesheet" href="${base}/swagger-ui.css">
  <link rel="icon" type="image/png" href="${base}/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="${base}/swagger-ui-bundle.js"></script>
  <script>window.ui = SwaggerUIBundle({ url: ${JSON.stringify(spec)}, dom_id: "#swagger-ui" });</script>
</body>
</html>
`;

/**
 * Serves the page at `base` and its assets under it. Assets are read on first use (the docs are
 * rarely opened, and the bundle is 1.7 MB) and then kept, with a day of browser caching.
 */
export function mountDocs<E extends Env>(app: Hono<E>, { base, spec, title }: { base: string; spec: string; title: string }): void {
  const html = page(title, base, spec);
  const cache = new Map<string, Promise<Buffer>>();
  app.get(base, (c) => c.html(html));
  app.get(`${base}/:asset`, async (c) => {
    const asset = c.req.param("asset");
    const type = ASSETS[asset];
    if (type === undefined) return c.json({ error: "not found" }, 404);
    let body = cache.get(asset);
    if (body === undefined) cache.set(asset, (body = readFile(join(DIST, asset))));
    return c.body(new Uint8Array(await body), 200, { "content-type": type, "cache-control": "public, max-age=86400" });
  });
}
