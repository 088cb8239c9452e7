import { describe, expect, it } from "vitest";
import { Registry } from "prom-client";
import { FastHistogram } from "./metrics.js";

describe("FastHistogram", () => {
  it("exposes cumulative buckets, sum and count per label set in Prometheus's text format", async () => {
    const registry = new Registry();
    const h = new FastHistogram("test_fast_seconds", "a test histogram", ["route", "status"], registry, [0.1, 1]);
    const ok = h.recorder("/a", "200");
    for (const v of [0.05, 0.5, 2]) ok.observe(v);
    h.observe({ route: "/a", status: "404" }, 0.1); // on a bucket's bound: counted in it
    expect(h.recorder("/a", "200")).toBe(ok);

    const text = await registry.getSingleMetricAsString("test_fast_seconds");
    expect(text.split("\n")).toEqual([
      "# HELP test_fast_seconds a test histogram",
      "# TYPE test_fast_seconds histogram",
      'test_fast_seconds_bucket{route="/a",status="200",le="0.1"} 1',
      'test_fast_seconds_bucket{route="/a",status="200",le="1"} 2',
      'test_fast_seconds_bucket{route="/a",status="200",le="+Inf"} 3',
      'test_fast_seconds_sum{route="/a",status="200"} 2.55',
      'test_fast_seconds_count{route="/a",status="200"} 3',
      'test_fast_seconds_bucket{route="/a",status="404",le="0.1"} 1',
      'test_fast_seconds_bucket{route="/a",status="404",le="1"} 1',
      'test_fast_seconds_bucket{route="/a",status="404",le="+Inf"} 1',
      'test_fast_seconds_sum{route="/a",status="404"} 0.1',
      'test_fast_seconds_count{route="/a",status="404"} 1',
    ]);
    h.reset();
    expect(await registry.getSingleMetricAsString("test_fast_seconds")).not.toMatch(/_count/);
  });
});
