// The local stand-in for the public gateway (nginx in Docker and Kubernetes): routes only the
// public path prefixes to the services, keeps upstream connections alive, and answers everything
// else with a JSON 404. It listens on both loopback addresses, since `localhost` resolves either way.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { BalancedPool, type Dispatcher } from "undici";

export const PUBLIC_PREFIXES = { "/orders/": "order", "/stock/": "stock", "/payment/": "payment" } as const;
type Upstream = (typeof PUBLIC_PREFIXES)[keyof typeof PUBLIC_PREFIXES];

/** Hop-by-hop headers (RFC 9110 §7.6.1) are never forwarded. */
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "host"]);

function sendJson(res: ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

export interface Gateway {
  servers: Server[];
  close(): Promise<void>;
}

export async function startGateway(
  upstreams: Record<Upstream, string[]>,
  port: number,
  hosts: string[] = ["127.0.0.1", "::1"],
): Promise<Gateway> {
  const pools = Object.fromEntries(
    Object.entries(upstreams).map(([name, urls]) => [
      name,
      new BalancedPool(urls, { connections: 256, headersTimeout: 60_000, bodyTimeout: 60_000, keepAliveTimeout: 30_000 }),
    ]),
  ) as Record<Upstream, BalancedPool>;

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    // Route on the normalised path ("/stock/../internal/x" is "/internal/x") and forward that.
    let url: URL;
    try {
      url = new URL(req.url ?? "/", "http://gateway");
    } catch {
      return sendJson(res, 400, { error: "bad request target" });
    }
    const prefix = Object.keys(PUBLIC_PREFIXES).find((p) => url.pathname.startsWith(p)) as keyof typeof PUBLIC_PREFIXES | undefined;
    if (!prefix) return sendJson(res, 404, { error: "not found" });

    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
    }
    const forwardedFor = req.headers["x-forwarded-for"];
    headers["x-forwarded-for"] = [forwardedFor, req.socket.remoteAddress].filter(Boolean).join(", ");

    const hasBody = req.headers["content-length"] !== undefined || req.headers["transfer-encoding"] !== undefined;
    try {
      const upstream = await pools[PUBLIC_PREFIXES[prefix]].request({
        method: req.method as Dispatcher.HttpMethod,
        path: url.pathname + url.search,
        headers,
        body: hasBody ? req : undefined,
      });
      const out: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(upstream.headers)) {
        if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
      }
      res.writeHead(upstream.statusCode, out);
      for await (const chunk of upstream.body) res.write(chunk);
      res.end();
    } catch {
      if (!res.headersSent) sendJson(res, 502, { error: `${PUBLIC_PREFIXES[prefix]} service unavailable` });
      else res.destroy();
    }
  };

  const servers: Server[] = [];
  for (const host of hosts) {
    const server = createServer((req, res) => void handle(req, res));
    server.keepAliveTimeout = 65_000;
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
