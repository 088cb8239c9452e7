// Debian's chromium, driven by playwright-core, for the tests that look at pages: the API docs and
// the bench and chaos reports. Never a downloaded browser.
import { chromium, type Browser } from "playwright-core";
import { pathToFileURL } from "node:url";

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
}

/** What a report's charts drew: per chart canvas, how many pixels carry each of `colors`. */
export interface DrawnReport {
  /** Chart placeholders in the page, and the count the page itself says it drew. */
  placeholders: number;
  drawn: number;
  /** Per canvas, per color (as "r,g,b"), pixels of that color. */
  pixels: Array<Record<string, number>>;
  /** Every URL the page asked for, and the page's own errors. */
  requests: string[];
  errors: string[];
}

/** Opens an HTML report file, waits for its charts to draw, and counts their colored pixels. */
export async function drawnReport(browser: Browser, file: string, colors: ReadonlyArray<readonly [number, number, number]>): Promise<DrawnReport> {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const requests: string[] = [];
  const errors: string[] = [];
  page.on("request", (r) => requests.push(r.url()));
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  try {
    await page.goto(pathToFileURL(file).href);
    await page.waitForSelector("body[data-charts-drawn]", { timeout: 20_000 });
    const placeholders = await page.locator(".chart").count();
    const drawn = Number(await page.getAttribute("body", "data-charts-drawn"));
    const pixels = await page.$$eval(
      ".chart canvas",
      (canvases, wanted) =>
        canvases.map((canvas) => {
          const c = canvas as HTMLCanvasElement;
          const data = c.getContext("2d")!.getImageData(0, 0, c.width, c.height).data;
          const counts: Record<string, number> = {};
          for (const [r, g, b] of wanted) counts[`${r},${g},${b}`] = 0;
          for (let i = 0; i < data.length; i += 4) {
            for (const [r, g, b] of wanted) {
              if (data[i + 3]! > 200 && Math.abs(data[i]! - r) < 24 && Math.abs(data[i + 1]! - g) < 24 && Math.abs(data[i + 2]! - b) < 24) counts[`${r},${g},${b}`]!++;
            }
          }
          return counts;
        }),
      colors,
    );
    return { placeholders, drawn, pixels, requests, errors };
  } finally {
    await page.close();
  }
}
