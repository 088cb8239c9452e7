// The nginx gateway configuration, rendered from one place for every deployment that uses nginx:
// only the public prefixes are routed, upstream connections are kept alive, every request is re-sent
// to the next instance when one dies with it, and a checkout's timeout is longer than it can take.
import { RETRY_ATTEMPT_TIMEOUT_MS, RETRY_KEY_HEADER, RETRY_WINDOW_MS } from "../common/http.js";
import { publicPrefix, SERVICES, type Service } from "../common/services.js";

const RESEND_WINDOW_S = RETRY_WINDOW_MS / 1000;
const CHANGE_READ_TIMEOUT_S = RETRY_ATTEMPT_TIMEOUT_MS / 1000;

export interface NginxOptions {
  /** Addresses to listen on, e.g. ["127.0.0.1:8000", "[::1]:8000"] or ["80"]. */
  listen: string[];
  /** Instances per service. */
  upstreams: Record<Service, Upstream[]>;
  /** For a private nginx (tests, benchmarks): where it keeps its pid, logs and temp files. */
  runDir?: string;
  workerProcesses?: number | "auto";
}

/** One instance of a service: host:port (nginx resolves a name once, at start), and what it is. */
export interface Upstream {
  address: string;
  name?: string;
}

const NGINX_ERRORS: Array<[number, string]> = [
  [400, "malformed request"],
  [405, "method not allowed"],
  [408, "request timed out"],
  [413, "request body too large"],
  [414, "request URI too long"],
  [494, "request headers too large"],
];

export function renderNginxConfig(o: NginxOptions): string {
  const run = o.runDir;
  const upstreams = SERVICES
    .map(
      (name) => `
  upstream ${name} {
${o.upstreams[name].map((u) => `    server ${u.address} max_fails=1 fail_timeout=2s;${u.name ? `  # ${u.name}` : ""}`).join("\n")}
    keepalive 128;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
  }`,
    )
    .join("\n");
  const locations = SERVICES.map(
    (service) => `
    location ${publicPrefix(service)}/ {
      proxy_pass http://${service};
    }`,
  ).join("\n");
  // A checkout may take up to its deadline, and is idempotent by order id without any key: it gets
  // the long read timeout, and is re-sent however long it took.
  const checkout = `
    location ${publicPrefix("order")}/checkout/ {
      proxy_pass http://order;
      proxy_read_timeout 60s;
      proxy_next_upstream_timeout 0;
    }`;

  return `# Rendered by deploy/nginx.ts; do not edit by hand.
${run ? `pid ${run}/nginx.pid;\nerror_log ${run}/error.log warn;` : "error_log /dev/stderr warn;"}
worker_processes ${o.workerProcesses ?? "auto"};
events {
  worker_connections 4096;
}
http {
  access_log off;
  server_tokens off;
${run ? ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((t) => `  ${t}_temp_path ${run}/${t};`).join("\n") : ""}
${upstreams}

  server {
${o.listen.map((l) => `    listen ${l};`).join("\n")}
    default_type application/json;
    client_max_body_size 1m;

    # Request targets that different parsers normalise differently (backslashes, encoded dots or
    # slashes, dot segments) are refused before routing, so what nginx routes is what a service sees.
    if ($request_uri ~* "(\\\\\\\\|%5c|%2e|%2f|/\\.\\.?(/|\\?|$))") {
      return 400 '{"error":"malformed request target"}';
    }

    # Upstream keep-alive needs HTTP/1.1 and an empty Connection header.
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host $host;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    # Every public request is safe to send again, so when an instance dies with it in flight, the
    # next instance takes it instead of the client getting a 502: reads change nothing; checkout is
    # idempotent by order id (a repeat waits for, or takes over, the same transaction); and every
    # other change carries a key that makes a repeat apply nothing: the client's Idempotency-Key,
    # or this request's own id as ${RETRY_KEY_HEADER} (common/idempotency.ts), which replaces any a
    # client sent. Such a change is re-sent for at most ${RESEND_WINDOW_S} s, within the key's
    # lifetime, and an answer waited for ${CHANGE_READ_TIMEOUT_S} s (the services' own storage retries
    # end sooner), so one stuck on a stalled instance is re-sent in time.
    proxy_connect_timeout 5s;
    proxy_send_timeout 60s;
    proxy_read_timeout ${CHANGE_READ_TIMEOUT_S}s;
    proxy_set_header ${RETRY_KEY_HEADER} $request_id;
    proxy_next_upstream error timeout non_idempotent;
    proxy_next_upstream_tries 3;
    proxy_next_upstream_timeout ${RESEND_WINDOW_S}s;
${locations}
${checkout}

    # Everything else, including /internal/ and the health endpoints, is not public.
    location / {
      return 404 '{"error":"not found"}';
    }

    # nginx's own errors answer in JSON too (the services' answers pass through untouched). A URI,
    # not a named location, so that even a request line nginx could not parse gets one.
${NGINX_ERRORS.map(([code, text]) => `    error_page ${code} /__error/${code};\n    location = /__error/${code} {\n      internal;\n      return ${code} '{"error":"${text}"}';\n    }`).join("\n")}
    error_page 502 503 504 = @unavailable;
    location @unavailable {
      return 502 '{"error":"service unavailable"}';
    }
  }
}
`;
}
