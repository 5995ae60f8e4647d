/**
 * Closing an HTTP(S) listener without cutting off a request it has accepted (server.ts, at shutdown).
 *
 * `server.close()` alone is not enough on Node 20, for two reasons, each measured here
 * (tests/unit/graceful-close.test.ts):
 * - It stops accepting and closes the connections that are idle at that moment, but a keep-alive connection
 *   that is busy then goes on being kept alive: once its response is sent it waits for the next request, serves
 *   it (with `Connection: keep-alive`), and close() completes only when the keep-alive timeout ends it. So once
 *   draining has begun every response that has not sent its headers yet says `Connection: close` (Node then
 *   ends the connection after it), and a connection whose response had already sent its headers is closed as
 *   soon as that response is written.
 * - Its sweep of idle connections (`closeIdleConnections`, which close() calls) counts a connection as idle as
 *   soon as its response has called end(), although the end of the body may still wait in the socket's buffer
 *   for a slow reader: the sweep then destroys the connection and the client gets a truncated answer to a
 *   request that was carried out. So this module counts, per connection, the responses not yet completely
 *   written (their "finish" event), and replaces the server's closeIdleConnections with a sweep that destroys
 *   only connections with none. A connection that has not sent a request yet counts as idle, which Node 20's own
 *   sweep misses (close() would then wait for the client).
 *
 * One race stays, in the nature of HTTP/1.1 keep-alive: a client may write a request on an idle connection in
 * the moment this server closes it. The server never handled that request, and the client sees the connection
 * reset; a client (or proxy) must retry such a request on a new connection, which idempotency keys make safe
 * for money movement. The race is avoided when the client's own idle timeout is the shorter one, as server.ts
 * asks of a load balancer. (A request head that has only partly arrived counts as idle too: Node handles a
 * request once its head is complete, which for a head sent in one write is at once.)
 *
 * Not "server-only": server.ts imports it directly.
 */
import type http from "node:http";
import type net from "node:net";
import tls from "node:tls";

export interface GracefulClose {
  /** Stops accepting and answers once every connection has closed, in-flight requests answered first. */
  drain(): Promise<void>;
  /** Cuts every remaining connection, for when draining has taken too long. */
  closeAllConnections(): void;
}

/** Call once, before the server listens, so that every connection and response is known. */
export function prepareGracefulClose(server: http.Server): GracefulClose {
  let draining = false;
  // Every open connection (for HTTPS from the end of its handshake, when it can first carry a request), with the
  // number of its responses that are not completely written yet.
  const unfinishedResponsesByConnection = new Map<net.Socket, number>();
  // The responses being written, so that those still without headers can be told to close when draining begins.
  const unfinishedResponses = new Set<http.ServerResponse>();

  server.on(server instanceof tls.Server ? "secureConnection" : "connection", (socket: net.Socket) => {
    unfinishedResponsesByConnection.set(socket, 0);
    socket.once("close", () => unfinishedResponsesByConnection.delete(socket));
  });

  // Prepended, so that the header is set before the request handler has a chance to send anything.
  server.prependListener("request", (request: http.IncomingMessage, response: http.ServerResponse) => {
    const socket = request.socket;
    unfinishedResponsesByConnection.set(socket, (unfinishedResponsesByConnection.get(socket) ?? 0) + 1);
    if (draining) response.setHeader("Connection", "close");
    unfinishedResponses.add(response);
    let settled = false;
    // "finish" comes once the whole response has been handed to the operating system; "close" alone means the
    // connection went away first. Either way this response no longer keeps its connection busy.
    const settle = () => {
      if (settled) return;
      settled = true;
      unfinishedResponses.delete(response);
      const unfinished = unfinishedResponsesByConnection.get(socket);
      if (unfinished === undefined) return;
      unfinishedResponsesByConnection.set(socket, unfinished - 1);
      if (draining && unfinished - 1 === 0) socket.destroy();
    };
    response.once("finish", settle);
    response.once("close", settle);
  });

  // close() sweeps idle connections through this method, so replacing it also keeps close() from cutting a
  // response off.
  server.closeIdleConnections = () => {
    for (const [socket, unfinished] of unfinishedResponsesByConnection) {
      if (unfinished === 0) socket.destroy();
    }
  };

  return {
    drain() {
      draining = true;
      for (const response of unfinishedResponses) {
        if (!response.headersSent) response.setHeader("Connection", "close");
      }
      return new Promise((resolve) => {
        // The callback's error only says that the server was not listening, which is as closed as it gets.
        server.close(() => resolve());
      });
    },
    closeAllConnections() {
      server.closeAllConnections();
    },
  };
}
