// A JSON answer to HTTP that is too malformed to reach any handler. Shared by the services and the
// local gateway, which must not load the service stack (Hono, the metrics registry) for it.
import type { Server } from "node:http";
import type { Duplex } from "node:stream";

/** Requests too malformed to reach a handler still get a JSON error, not a bare status line. */
export function answerMalformedRequests(server: Server): void {
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (!socket.writable) return socket.destroy();
    const [status, reason, text] =
      err.code === "HPE_HEADER_OVERFLOW"
        ? [431, "Request Header Fields Too Large", "request headers too large"]
        : [400, "Bad Request", "malformed request"];
    const body = JSON.stringify({ error: text });
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
}
