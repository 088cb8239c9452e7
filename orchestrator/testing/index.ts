// Testing an engine's host: in-memory storage and transport with scripted faults (the property
// tests' world), and the storage conformance suite every TxLog must pass (vitest).
export { FaultPlan, MemoryLog, MemoryParticipant, MemoryTransport, LostAnswerError, type Fault, type Payload } from "./fakes.js";
export { txLogConformance, type ConformanceHarness } from "./conformance.js";
