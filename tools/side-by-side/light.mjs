// Light-load latency, two stacks compared: one checkout at a time, 2 000 per stack, in alternating
// blocks of 200 (A first in even blocks, B in odd), on orders from FIRST_ID up that neither has
// checked out yet (see BENCHMARKS.md). Prints each stack's median, p99 and mean in ms.
//
//   node tools/side-by-side/light.mjs URL_A URL_B FIRST_ID      (after npm run build)
import { apiClient } from "../../dist/tools/workload.js";

const [urlA, urlB, first] = process.argv.slice(2);
if (!urlA || !urlB || !first) throw new Error("usage: light.mjs URL_A URL_B FIRST_ID");
const stacks = { A: apiClient(urlA, 4), B: apiClient(urlB, 4) };
const latencies = { A: [], B: [] };
let next = Number(first);
for (let block = 0; block < 10; block++) {
  for (const name of block % 2 ? ["B", "A"] : ["A", "B"]) {
    for (let i = 0; i < 200; i++) {
      const start = performance.now();
      const { status } = await stacks[name].post(`/orders/checkout/${next + i}`);
      if (status !== 200) throw new Error(`${name}: checkout ${next + i} answered ${status}`);
      latencies[name].push(performance.now() - start);
    }
  }
  next += 200;
}
const at = (xs, q) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length * q)];
for (const name of ["A", "B"]) {
  const xs = latencies[name];
  console.log(`${name}: median ${at(xs, 0.5).toFixed(3)} ms, p99 ${at(xs, 0.99).toFixed(3)} ms, mean ${(xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(3)} ms`);
}
await Promise.all(Object.values(stacks).map((s) => s.close()));
