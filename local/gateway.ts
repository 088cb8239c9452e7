// The local stand-in for the public gateway (nginx in Docker and Kubernetes): routes only the
// public path prefixes to the services, keeps upstream connections alive, and answers everything
// else with a JSON 404. It listens on both loopback addresses, since `localhost` resolves either way.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { Pool, type Dispatcher } from "undici";
import { randomUUID } from "node:crypto";
import { RETRY_ATTEMPT_TIMEOUT_MS, RETRY_KEY_HEADER, RETRY_WINDOW_MS } from "../common/http.js";
import { answerMalformedRequests } from "../common/malformed.js";
import { publicPrefix, SERVICES, type Service } from "../common/services.js";

/** Checkouts: idempotent by order id, and as long as their deadline. */
const CHECKOUT_PREFIX = `${publicPrefix("order")}/checkout/`;

/** The service each public path prefix (with its trailing slash) is routed to. */
const ROUTES = SERVICES.map((service) => [`${publicPrefix(service)}/`, service] as const);

/** Hop-by-hop headers (RFC 9110 §7.6.1) are never forwarded. */
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "host"]);

function sendJson(res: ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/** Largest request body forwarded; the public API itself sends none. */
const MAX_BODY = 1 << 20;
/** How long an upstream that refused a connection is skipped (nginx's fail_timeout). */
const FAIL_TIMEOUT_MS = 2000;

/**
 * Round-robin over one service's instances, like an nginx upstream block: an instance that fails a
 * request is skipped for a while and the request goes to the next one.
 */
class Upstream {
  private readonly pools: Pool[];
  private readonly downUntil: number[];
  private next = 0;

  constructor(urls: string[]) {
    this.pools = urls.map(
      (url) => new Pool(url, { connections: 256, headersTimeout: 60_000, bodyTimeout: 60_000, keepAliveTimeout: 30_000 }),
    );
    this.downUntil = urls.map(() => 0);
  }

  /**
   * Every public request is safe to send again (see the gateway below): one that failed goes to the
   * next instance, for up to `resendWithinMs` after the first was sent.
   */
  async request(options: Dispatcher.RequestOptions, resendWithinMs: number): Promise<Dispatcher.ResponseData> {
    const now = Date.now();
    const start = this.next++ % this.pools.length;
    const order = this.pools.map((_, i) => (start + i) % this.pools.length);
    // Healthy instances first, then the ones marked down, in case they are back.
    order.sort((x, y) => Number(this.downUntil[x]! > now) - Number(this.downUntil[y]! > now));
    let lastError: unknown;
    for (const i of order) {
      if (Date.now() - now > resendWithinMs) break;
      try {
        return await this.pools[i]!.request(options);
      } catch (err) {
        lastError = err;
        this.downUntil[i] = Date.now() + FAIL_TIMEOUT_MS;
      }
    }
    throw lastError;
  }

  close(): Promise<unknown> {
    return Promise.all(this.pools.map((p) => p.close()));
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) return null;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export interface Gateway {
  servers: Server[];
  close(): Promise<void>;
}

export async function startGateway(
  upstreams: Record<Service, string[]>,
  port: number,
  hosts: string[] = ["127.0.0.1", "::1"],
): Promise<Gateway> {
  const pools = Object.fromEntries(
    Object.entries(upstreams).map(([name, urls]) => [name, new Upstream(urls)]),
  ) as Record<Service, Upstream>;

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    // Route on the normalised path ("/stock/../internal/x" is "/internal/x") and forward that.
    let url: URL;
    try {
      url = new URL(req.url ?? "/", "http://gateway");
    } catch {
      return sendJson(res, 400, { error: "bad request target" });
    }
    const service = ROUTES.find(([prefix]) => url.pathname.startsWith(prefix))?.[1];
    if (!service) return sendJson(res, 404, { error: "not found" });

    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
    }
    const forwardedFor = req.headers["x-forwarded-for"];
    headers["x-forwarded-for"] = [forwardedFor, req.socket.remoteAddress].filter(Boolean).join(", ");
    // As in the nginx configuration: this request's own key, replacing any a client sent.
    headers[RETRY_KEY_HEADER] = randomUUID();

    // Buffered, so a request can be handed to another instance when the first refuses it.
    const body = await readBody(req);
    if (body === null) return sendJson(res, 413, { error: "request body too large" });
    try {
      // As in the nginx configuration, every public request may be re-sent: reads, checkout
      // (idempotent by order id, however long it took), and changes, which carry a key, within its
      // lifetime; their answer is waited for a little less.
      const checkout = url.pathname.startsWith(CHECKOUT_PREFIX);
      const timeout = checkout ? {} : { headersTimeout: RETRY_ATTEMPT_TIMEOUT_MS, bodyTimeout: RETRY_ATTEMPT_TIMEOUT_MS };
      const upstream = await pools[service].request(
        { method: req.method as Dispatcher.HttpMethod, path: url.pathname + url.search, headers, body: body.length > 0 ? body : undefined, ...timeout },
        checkout ? Number.POSITIVE_INFINITY : RETRY_WINDOW_MS,
      );
      const out: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(upstream.headers)) {
        if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
      }
      res.writeHead(upstream.statusCode, out);
      for await (const chunk of upstream.body) res.write(chunk);
      res.end();
    } catch {
      if (!res.headersSent) sendJson(res, 502, { error: `${service} service unavailable` });
      else res.destroy();
    }
  };

  const servers: Server[] = [];
  for (const host of hosts) {
    const server = createServer((req, res) => void handle(req, res));
    server.keepAliveTimeout = 65_000;
    answerMalformedRequests(server);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => resolve());
      });
      servers.push(server);
      // Every address must share one port, the first one's when the caller asked for any (0).
      if (port === 0) port = (server.address() as { port: number }).port;
    } catch (err) {
      // A machine without IPv6 loopback still serves 127.0.0.1.
      if (host !== "::1" || servers.length === 0) throw err;
    }
  }

  return {
    servers,
    async close() {
      await Promise.all(servers.map((s) => new Promise((r) => { s.close(r); s.closeAllConnections(); })));
      await Promise.all(Object.values(pools).map((p) => p.close()));
    },
  };
}
