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
// Runs in the shop's image as `node dist/deploy/watchdog.js`, with the engine's socket mounted.
import { Agent, type Dispatcher } from "undici";

const SOCKET = process.env.DOCKER_SOCKET ?? "/var/run/docker.sock";
/** How long after a `die` a `stop` may still arrive (the engine sends both within milliseconds). */
const GRACE_MS = Number(process.env.WATCHDOG_GRACE_MS ?? 2000);
const PROJECT_LABEL = "com.docker.compose.project";
/** The exit code of a process killed by SIGKILL (128 + 9). */
const SIGKILLED = 137;

const engine = new Agent({ connect: { socketPath: SOCKET }, bodyTimeout: 0 });

function log(msg: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), service: "watchdog", msg, ...fields })}\n`);
}

async function call(method: Dispatcher.HttpMethod, path: string): Promise<Dispatcher.ResponseData> {
  return engine.request({ origin: "http://docker", method, path });
}

async function json<T>(path: string): Promise<T> {
  const res = await call("GET", path);
  if (res.statusCode !== 200) throw new Error(`GET ${path}: ${res.statusCode} ${await res.body.text()}`);
  return (await res.body.json()) as T;
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

async function restartIfKilled(id: string, nameAtDeath: string | undefined): Promise<void> {
  pending.delete(id);
  const state = await json<Inspect>(`/containers/${id}/json`).catch(() => undefined);
  if (!state || state.State.Status !== "exited" || state.State.Restarting || state.State.ExitCode !== SIGKILLED) return;
  if (nameAtDeath !== undefined && state.Name.replace(/^\//, "") !== nameAtDeath) return;
  const res = await call("POST", `/containers/${id}/start`);
  await res.body.dump();
  log(res.statusCode < 300 ? "started a killed container" : "could not start a killed container", {
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

function onEvent(event: EngineEvent): void {
  const action = event.Action ?? event.status;
  const id = event.Actor?.ID ?? event.id;
  if (!id || !action) return;
  if (action === "die") {
    clearTimeout(pending.get(id));
    const name = event.Actor?.Attributes?.name;
    pending.set(id, setTimeout(() => void restartIfKilled(id, name).catch((err) => log("restart failed", { err: String(err) })), GRACE_MS));
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
  for await (const chunk of res.body) {
    buffered += chunk.toString();
    let newline: number;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, newline).trim();
      buffered = buffered.slice(newline + 1);
      if (line) onEvent(JSON.parse(line) as EngineEvent);
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

await main();
