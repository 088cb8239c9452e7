// Service boot and shutdown shared by order, stock and payment: the base Hono app (JSON errors,
// /health, /ready), the HTTP server, and a graceful stop on SIGTERM/SIGINT.
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { Server } from "node:http";
import type { BaseConfig } from "./config.js";
import { createLogger, type Logger } from "./log.js";
import { OutcomeUnknownError, type Shards } from "./redis.js";
import { INTERNAL_PREFIX } from "./saga.js";

/** The app every service starts from: uniform JSON errors and the health endpoints. */
export function createServiceApp(name: string, shards: Shards<string>, log: Logger): Hono {
  const app = new Hono();
  // Internal routes are for service-to-service calls only. Gateways never route them, and as a
  // second line of defence any request that passed through a proxy is refused here.
  app.use(`${INTERNAL_PREFIX}*`, async (c, next) => {
    if (c.req.header("x-forwarded-for") !== undefined || c.req.header("forwarded") !== undefined) {
      return c.json({ error: "not found" }, 404);
    }
    await next();
  });
  app.get("/health", (c) => c.json({ status: "ok", service: name }));
  app.get("/ready", async (c) =>
    (await shards.ready())
      ? c.json({ status: "ready", service: name, shards: shards.count })
      : c.json({ status: "unavailable", service: name, error: "a redis shard is unreachable" }, 503),
  );
  app.notFound((c) => c.json({ error: "not found" }, 404));
  app.onError((err, c) => {
    if (err instanceof HTTPException) return c.json({ error: err.message }, err.status);
    if (err instanceof OutcomeUnknownError) {
      log.warn({ err: err.message, path: c.req.path }, "storage did not answer");
      return c.json({ error: "storage unavailable; the outcome of this request is unknown" }, 503);
    }
    log.error({ err, path: c.req.path }, "unhandled error");
    return c.json({ error: "internal error" }, 500);
  });
  return app;
}

type Closer = () => unknown;

export interface ServiceDefinition {
  name: string;
  config: BaseConfig;
  shards: Shards<string>;
  /** Adds the service's routes; may return what to close on shutdown (before the shards). */
  mount: (app: Hono, log: Logger) => Closer[] | void;
}

/** Builds the app, listens, and stops gracefully: drain HTTP, then close clients and shards. */
export function startService({ name, config, shards, mount }: ServiceDefinition): Server {
  const log = createLogger(name, config.LOG_LEVEL, config.MACHINE_ID);
  const app = createServiceApp(name, shards, log);
  const closers = [...(mount(app, log) ?? []), () => shards.close()];

  const server = serve({ fetch: app.fetch, port: config.PORT, hostname: config.HOST }, (info) =>
    log.info({ port: info.port, shards: shards.count }, `${name} listening`),
  ) as Server;
  // Longer than any proxy's upstream keep-alive, so the proxy always closes idle connections first.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.on("error", (err) => {
    log.fatal({ err }, `${name} cannot listen`);
    process.exit(1);
  });

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, `${name} stopping`);
    setTimeout(() => process.exit(1), 10_000).unref();
    server.close(async () => {
      for (const close of closers) await close();
      process.exit(0);
    });
    server.closeIdleConnections();
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  return server;
}
