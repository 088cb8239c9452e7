// Self-contained HTML reports for the bench and chaos tools: tables and time charts in one file,
// written beside the run's JSON. The charts are drawn by uPlot, whose code and stylesheet are
// inlined from node_modules, so the report opens anywhere offline and loads nothing from a CDN.
//
// Once every chart has drawn, the page sets `data-charts-drawn` on <body> to the number of charts
// (the browser test waits for it).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

/** A chart over time: x is seconds since the run began, each series one line. */
export interface TimeChart {
  title: string;
  /** What the y axis measures, e.g. "requests/s". */
  unit: string;
  seconds: number[];
  series: Array<{ label: string; values: Array<number | null> }>;
  /** Events drawn as vertical lines, shaded up to `until` when given (e.g. a kill until its restart). */
  marks?: Array<{ at: number; until?: number; label: string }>;
}

export interface Table {
  head: string[];
  rows: Array<Array<string | number>>;
}

export interface ReportSection {
  heading: string;
  text?: string[];
  tables?: Table[];
  charts?: TimeChart[];
}

export interface Report {
  title: string;
  /** Lines under the title: what ran, where, when. */
  about: string[];
  sections: ReportSection[];
}

const require = createRequire(import.meta.url);
const asset = (file: string) => readFileSync(require.resolve(`uplot/dist/${file}`), "utf8");

const escapeHtml = (s: string | number) =>
  String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

/** JSON that is safe inside a <script> element (no `</script>`, no `<!--`). */
const scriptJson = (value: unknown) => JSON.stringify(value).replace(/</g, "\\u003c");

function renderTable(t: Table): string {
  const head = t.head.map((h) => `<th>${escapeHtml(h)}</th>`).join("");
  const rows = t.rows.map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join("")}</tr>`).join("\n");
  return `<table><thead><tr>${head}</tr></thead><tbody>\n${rows}\n</tbody></table>`;
}

/** The series' colours, in order (RGB). */
export const PALETTE: ReadonlyArray<readonly [number, number, number]> = [
  [31, 119, 180], [214, 39, 40], [44, 160, 44], [255, 127, 14], [148, 103, 189],
  [140, 86, 75], [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207],
];
/** The colour of the marks (kills): a translucent shade of it fills each mark's span. */
export const MARK_RGB = [170, 0, 0] as const;

/** Draws every chart of `window.REPORT_CHARTS` into its placeholder; runs in the browser. */
const CLIENT = `
(function () {
  var charts = window.REPORT_CHARTS, drawn = 0;
  var palette = ${JSON.stringify(PALETTE.map(([r, g, b]) => `rgb(${r},${g},${b})`))};
  var mark = "rgb(${MARK_RGB.join(",")})";
  function marksPlugin(marks) {
    return { hooks: { draw: function (u) {
      var ctx = u.ctx, top = u.bbox.top, height = u.bbox.height;
      ctx.save();
      marks.forEach(function (m) {
        var x0 = u.valToPos(m.at, "x", true);
        if (m.until != null) {
          ctx.globalAlpha = 0.1;
          ctx.fillStyle = mark;
          ctx.fillRect(x0, top, Math.max(1, u.valToPos(m.until, "x", true) - x0), height);
          ctx.globalAlpha = 1;
        }
        ctx.strokeStyle = mark;
        ctx.lineWidth = 2;
        ctx.beginPath(); ctx.moveTo(x0, top); ctx.lineTo(x0, top + height); ctx.stroke();
        ctx.fillStyle = mark;
        ctx.font = (10 * devicePixelRatio) + "px sans-serif";
        ctx.fillText(m.label, x0 + 3, top + 12 * devicePixelRatio);
      });
      ctx.restore();
    } } };
  }
  charts.forEach(function (c, i) {
    var el = document.getElementById("chart-" + i);
    var first = true;
    var opts = {
      title: c.title,
      width: Math.min(1100, document.body.clientWidth - 40),
      height: 260,
      scales: { x: { time: false } },
      axes: [{ label: "seconds" }, { label: c.unit, size: 70 }],
      series: [{ label: "s" }].concat(c.series.map(function (s, k) {
        return { label: s.label, stroke: palette[k % palette.length], width: 1.5, spanGaps: false };
      })),
      plugins: c.marks && c.marks.length ? [marksPlugin(c.marks)] : [],
      hooks: { draw: [function () {
        if (!first) return;
        first = false;
        drawn++;
        if (drawn === charts.length) document.body.setAttribute("data-charts-drawn", String(drawn));
      }] }
    };
    new uPlot(opts, [c.seconds].concat(c.series.map(function (s) { return s.values; })), el);
  });
  if (!charts.length) document.body.setAttribute("data-charts-drawn", "0");
})();
`;

/** The whole report as one HTML document. */
export function renderReport(report: Report): string {
  const charts: TimeChart[] = [];
  const body = report.sections
    .map((s) => {
      const parts = [`<h2>${escapeHtml(s.heading)}</h2>`];
      for (const line of s.text ?? []) parts.push(`<p>${escapeHtml(line)}</p>`);
      for (const t of s.tables ?? []) parts.push(renderTable(t));
      for (const c of s.charts ?? []) parts.push(`<div class="chart" id="chart-${charts.push(c) - 1}"></div>`);
      return `<section>\n${parts.join("\n")}\n</section>`;
    })
    .join("\n");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(report.title)}</title>
<style>${asset("uPlot.min.css")}</style>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 20px; color: #222; }
table { border-collapse: collapse; margin: 8px 0 16px; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.chart { margin: 12px 0 24px; }
.about { color: #555; }
</style>
</head>
<body>
<h1>${escapeHtml(report.title)}</h1>
${report.about.map((line) => `<p class="about">${escapeHtml(line)}</p>`).join("\n")}
${body}
<script>${asset("uPlot.iife.min.js")}</script>
<script>window.REPORT_CHARTS = ${scriptJson(charts)};</script>
<script>${CLIENT}</script>
</body>
</html>
`;
}

/** Where a run's report goes: beside its JSON, with the same name. */
export const reportFileFor = (jsonFile: string) => jsonFile.replace(/\.json$/, "") + ".html";

/** Answers second by second: how many, how long they took, and their statuses. */
export interface AnswerSeries {
  /** The start of each second, counted from when the timeline began. */
  seconds: number[];
  answers: number[];
  p50Ms: Array<number | null>;
  p99Ms: Array<number | null>;
  /** Per status (or status class), answers in each second. */
  statuses: Record<string, number[]>;
}

/** The `p`th percentile of ascending `sorted` latencies, to 0.1 ms; null when there are none. */
export const percentile = (sorted: readonly number[], p: number): number | null =>
  sorted.length ? Math.round(10 * sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!) / 10 : null;

/** Collects answers into one-second buckets from `startedAt` (a performance.now() value). */
export class AnswerTimeline {
  private readonly buckets: Array<{ latencies: number[]; statuses: Map<string, number> }> = [];

  constructor(private readonly startedAt = performance.now()) {}

  record(status: string, latencyMs: number, at = performance.now()): void {
    const k = Math.max(0, Math.floor((at - this.startedAt) / 1000));
    for (let i = this.buckets.length; i <= k; i++) this.buckets.push({ latencies: [], statuses: new Map() });
    const b = this.buckets[k]!;
    b.latencies.push(latencyMs);
    b.statuses.set(status, (b.statuses.get(status) ?? 0) + 1);
  }

  /** The buckets so far (the last one may be partial: the run ended in it). */
  series(): AnswerSeries {
    const buckets = this.buckets;
    const names = [...new Set(buckets.flatMap((b) => [...b.statuses.keys()]))].sort();
    const sorted = buckets.map((b) => [...b.latencies].sort((x, y) => x - y));
    return {
      seconds: buckets.map((_, k) => k),
      answers: buckets.map((b) => b.latencies.length),
      p50Ms: sorted.map((s) => percentile(s, 50)),
      p99Ms: sorted.map((s) => percentile(s, 99)),
      statuses: Object.fromEntries(names.map((n) => [n, buckets.map((b) => b.statuses.get(n) ?? 0)])),
    };
  }
}

type Marks = TimeChart["marks"];

/** Answers per second, one line per status (or status class). */
export const statusChart = (a: AnswerSeries, title: string, marks?: Marks): TimeChart => ({
  title,
  unit: "answers/s",
  seconds: a.seconds,
  series: Object.entries(a.statuses).map(([label, values]) => ({ label, values })),
  marks,
});

/** p50 and p99 of each second's answers. */
export const latencyChart = (a: AnswerSeries, title: string, marks?: Marks): TimeChart => ({
  title,
  unit: "ms",
  seconds: a.seconds,
  series: [
    { label: "p50", values: a.p50Ms },
    { label: "p99", values: a.p99Ms },
  ],
  marks,
});
