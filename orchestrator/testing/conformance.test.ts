// The storage contract, run against the in-memory fake that the engine's property tests use: what
// they prove rests on it behaving as the Redis record does, which the same suite checks there.
import { FaultPlan, MemoryLog } from "./fakes.js";
import { txLogConformance } from "./conformance.js";

txLogConformance("the in-memory fake", async () => {
  const log = new MemoryLog(new FaultPlan([]), 5);
  let n = 0;
  return {
    log,
    newSubject: async () => `order-${n++}`,
    refusal: "paid",
    elapse: async (ms) => {
      log.now += ms;
    },
  };
});
