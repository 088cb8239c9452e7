// The compose deployment's watchdog: starts again any container of its own compose project that
// was killed (`docker kill`, or a kill -9 from outside), which Docker treats as a manual stop and so
// never restarts under any restart policy. A container stopped on purpose (`docker stop`,
// `docker compose stop` or `down`) stays stopped, and a crash is left to the restart policy.
//
// How it tells them apart: it follows the Docker engine's event stream for the project. A
// `docker stop` emits `die` then `stop`; a kill emits `die` alone. So on `die` it waits GRACE_MS,
// and if no `stop` (or `destroy`) came for that container and it is still exited, starts it. Only
// a container that died of SIGKILL (exit code 137) counts, and only under the name it died with:
// on a busy engine the `stop` of a `docker stop` can come seconds late, and a container that
// stopped on SIGTERM, or that Compose renamed to replace it (the new one takes over its address),
// must stay stopped.
//
// Runs in an image of its own (the Dockerfile's `watchdog` stage: Node and this one file, no npm
// package), as `node watchdog.mjs`. It reaches the engine through ENGINE_URL, in Compose a filter
// (deploy/engine-filter.conf) that lets through only what it does here; or, without ENGINE_URL,
// through the socket at DOCKER_SOCKET. `node watchdog.mjs --check` is its health check: the engine
// answers.
import { request, type IncomingMessage } from "node:http";

const ENGINE = process.env.ENGINE_URL ? new URL(process.env.ENGINE_URL) : undefined;
const SOCKET = process.env.DOCKER_SOCKET ?? "/var/run/docker.sock";
/** How long after a `die` a `stop` may still arrive (the engine sends both within milliseconds). */
const GRACE_MS = Number(process.env.WATCHDOG_GRACE_MS ?? 2000);
const PROJECT_LABEL = "com.docker.compose.project";
/** The exit code of a process killed by SIGKILL (128 + 9). */
const SIGKILLED = 137;


function log(msg: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), service: "watchdog", msg, ...fields })}\n`);
}

/** A request to the engine's API over its socket; the answer's body is left to the caller. */
function call(method: "GET" | "POST", path: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const where = ENGINE ? { host: ENGINE.hostname, port: ENGINE.port || 80 } : { socketPath: SOCKET };
    const req = request({ ...where, method, path, headers: { host: "docker" } }, resolve);
    req.on("error", reject);
    req.end();
  });
}

async function text(res: IncomingMessage): Promise<string> {
  let body = "";
  for await (const chunk of res) body += chunk;
  return body;
}

async function json<T>(path: string): Promise<T> {
  const res = await call("GET", path);
  const body = await text(res);
  if (res.statusCode !== 200) throw new Error(`GET ${path}: ${res.statusCode} ${body}`);
  return JSON.parse(body) as T;
}

interface Inspect {
  Name: string;
  State: { Status: string; Restarting: boolean; ExitCode: number };
  Config: { Labels: Record<string, string> };
}

/** The compose project this watchdog belongs to, from its own container's labels. */
async function ownProject(): Promise<string> {
  const self = await json<Inspect>(`/containers/${encodeURIComponent(process.env.HOSTNAME ?? "")}/json`);
  const project = self.Config.Labels[PROJECT_LABEL];
  if (!project) throw new Error("this container has no compose project label");
  return project;
}

/** Containers that died and have not (yet) been seen stopping on purpose. */
const pending = new Map<string, NodeJS.Timeout>();

async function restartIfKilled(id: string, nameAtDeath: string | undefined, project: string): Promise<void> {
  pending.delete(id);
  const state = await json<Inspect>(`/containers/${id}/json`).catch(() => undefined);
  if (!state || state.State.Status !== "exited" || state.State.Restarting || state.State.ExitCode !== SIGKILLED) return;
  if (nameAtDeath !== undefined && state.Name.replace(/^\//, "") !== nameAtDeath) return;
  // Never another project's container, whatever the event stream said.
  if (state.Config.Labels[PROJECT_LABEL] !== project) return;
  const res = await call("POST", `/containers/${id}/start`);
  res.resume();
  log((res.statusCode ?? 500) < 300 ? "started a killed container" : "could not start a killed container", {
    container: state.Name.replace(/^\//, ""),
    status: res.statusCode,
  });
}

interface EngineEvent {
  status?: string;
  Action?: string;
  id?: string;
  Actor?: { ID?: string; Attributes?: { name?: string } };
}

function onEvent(event: EngineEvent, project: string): void {
  const action = event.Action ?? event.status;
  const id = event.Actor?.ID ?? event.id;
  if (!id || !action) return;
  if (action === "die") {
    clearTimeout(pending.get(id));
    const name = event.Actor?.Attributes?.name;
    pending.set(id, setTimeout(() => void restartIfKilled(id, name, project).catch((err) => log("restart failed", { err: String(err) })), GRACE_MS));
  } else if (action === "stop" || action === "destroy") {
    clearTimeout(pending.get(id));
    pending.delete(id);
  }
}

/** Follows the event stream until it ends; the caller reconnects. */
async function follow(project: string): Promise<void> {
  const filters = JSON.stringify({ type: ["container"], label: [`${PROJECT_LABEL}=${project}`], event: ["die", "stop", "destroy"] });
  const res = await call("GET", `/events?filters=${encodeURIComponent(filters)}`);
  if (res.statusCode !== 200) throw new Error(`GET /events: ${res.statusCode}`);
  log("watching", { project });
  let buffered = "";
  for await (const chunk of res) {
    buffered += chunk.toString();
    let newline: number;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, newline).trim();
      buffered = buffered.slice(newline + 1);
      if (line) onEvent(JSON.parse(line) as EngineEvent, project);
    }
  }
}

async function main(): Promise<void> {
  for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, () => process.exit(0));
  for (let failures = 0; ; ) {
    try {
      await follow(await ownProject());
      failures = 0;
    } catch (err) {
      failures++;
      log("cannot follow the engine's events", { err: String(err) });
    }
    await new Promise((r) => setTimeout(r, Math.min(1000 * 2 ** failures, 30_000)));
  }
}

/** The health check: the engine answers this container's inspection. */
async function check(): Promise<never> {
  process.exit((await ownProject().then(() => true, () => false)) ? 0 : 1);
}

await (process.argv.includes("--check") ? check() : main());
