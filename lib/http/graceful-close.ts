/**
 * Closing an HTTP(S) listener without cutting off a request it has accepted (server.ts, at shutdown).
 *
 * `server.close()` alone is not enough on Node 20. It stops accepting and closes the connections that are idle
 * at that moment, but a keep-alive connection that is busy then goes on being kept alive: once its response is
 * sent it waits for the next request, serves it (with `Connection: keep-alive`), and close() completes only
 * when the client goes away or the keep-alive timeout ends the connection (measured: about keepAliveTimeout
 * after the last response). So, once draining has begun, every response that has not sent its headers yet says
 * `Connection: close` (Node then ends the connection after it), and a response that had already sent its
 * headers gets its connection closed as soon as it is idle.
 *
 * One race stays, in the nature of HTTP/1.1 keep-alive: a client may write a request on an idle connection in
 * the moment this server closes it. The server never read that request, and the client sees the connection
 * reset; a client (or proxy) must retry such a request on a new connection, which idempotency keys make safe
 * for money movement. The race is avoided when the client's own idle timeout is the shorter one, as server.ts
 * asks of a load balancer.
 *
 * Not "server-only": server.ts imports it directly.
 */
import type http from "node:http";

export interface GracefulClose {
  /** Stops accepting and answers once every connection has closed, in-flight requests answered first. */
  drain(): Promise<void>;
  /** Cuts every remaining connection, for when draining has taken too long. */
  closeAllConnections(): void;
}

/** Call once, before the server listens, so that every response is known. */
export function prepareGracefulClose(server: http.Server): GracefulClose {
  let draining = false;
  const openResponses = new Set<http.ServerResponse>();

  // Prepended, so that the header is set before the request handler has a chance to send anything.
  server.prependListener("request", (request: http.IncomingMessage, response: http.ServerResponse) => {
    if (draining) response.setHeader("Connection", "close");
    openResponses.add(response);
    response.once("close", () => openResponses.delete(response));
    response.once("finish", () => {
      // The connection counts as idle only once Node has finished with the response, a moment after "finish".
      if (draining) setImmediate(() => server.closeIdleConnections());
    });
  });

  return {
    drain() {
      draining = true;
      for (const response of openResponses) {
        if (!response.headersSent) response.setHeader("Connection", "close");
      }
      return new Promise((resolve) => {
        // The callback's error only says that the server was not listening, which is as closed as it gets.
        server.close(() => resolve());
        server.closeIdleConnections();
      });
    },
    closeAllConnections() {
      server.closeAllConnections();
    },
  };
}
