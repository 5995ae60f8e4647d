import http from "node:http";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { prepareGracefulClose } from "@/lib/http/graceful-close";

/**
 * prepareGracefulClose against a real Node HTTP server on a loopback port: the behaviours server.ts relies on
 * at shutdown, which `server.close()` alone does not give on Node 20 (a busy keep-alive connection stays open
 * and keeps serving until its keep-alive timeout).
 */

interface Answer {
  status: number;
  connection: string | undefined;
  body: string;
}

const openServers: http.Server[] = [];
const agents: http.Agent[] = [];

afterEach(() => {
  for (const server of openServers.splice(0)) server.closeAllConnections();
  for (const agent of agents.splice(0)) agent.destroy();
});

async function startServer(handler: http.RequestListener) {
  const server = http.createServer(handler);
  // Long enough that a test passing by waiting for it would time out instead.
  server.keepAliveTimeout = 30_000;
  const graceful = prepareGracefulClose(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  openServers.push(server);
  const { port } = server.address() as AddressInfo;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  agents.push(agent);
  const get = (urlPath: string) =>
    new Promise<Answer>((resolve, reject) => {
      const outgoing = http.request({ host: "127.0.0.1", port, path: urlPath, agent }, (response) => {
        let body = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => (body += chunk));
        response.on("end", () => resolve({ status: response.statusCode ?? 0, connection: response.headers.connection, body }));
      });
      outgoing.on("error", reject);
      outgoing.end();
    });
  /** A request on a new connection of its own, never a kept-alive one. */
  const connect = () =>
    new Promise<void>((resolve, reject) => {
      const outgoing = http.request({ host: "127.0.0.1", port, path: "/", agent: false }, (response) => {
        response.resume();
        response.on("end", () => resolve());
      });
      outgoing.on("error", reject);
      outgoing.end();
    });
  return { server, graceful, port, get, connect };
}

describe("prepareGracefulClose", () => {
  it("finishes an in-flight request with Connection: close and then completes at once, not after the keep-alive timeout", async () => {
    const { graceful, get } = await startServer((request, response) => {
      setTimeout(() => response.end(`answered ${request.url}`), request.url === "/slow" ? 200 : 0);
    });
    await get("/warm-up");
    const slow = get("/slow");
    await new Promise((resolve) => setTimeout(resolve, 50));

    const started = Date.now();
    const drained = graceful.drain();
    expect(await slow).toEqual({ status: 200, connection: "close", body: "answered /slow" });
    await drained;
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("closes a connection whose response had already sent its headers as soon as it is idle", async () => {
    const { graceful, get } = await startServer((request, response) => {
      response.write("first part, ");
      setTimeout(() => response.end("last part"), 200);
    });
    const streaming = get("/stream");
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = Date.now();
    const drained = graceful.drain();
    // Its headers went out before the drain began, so they still say keep-alive; the connection closes anyway.
    expect(await streaming).toEqual({ status: 200, connection: "keep-alive", body: "first part, last part" });
    await drained;
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("does not cut off a response that has ended but is still being written to a slow reader", async () => {
    // Node's own closeIdleConnections (which server.close() calls) destroys a connection as soon as its response
    // has called end(), even while the end of the body is still waiting in the socket's buffer.
    const bodyBytes = 8 * 1024 * 1024;
    const { graceful, port, get } = await startServer((request, response) => {
      response.setHeader("Content-Length", String(bodyBytes));
      response.end(Buffer.alloc(bodyBytes, 97));
    });
    let received = 0;
    const complete = new Promise<boolean>((resolve) => {
      const outgoing = http.request({ host: "127.0.0.1", port, path: "/large", agent: false }, (response) => {
        // Read nothing for a while, so that most of the body stays buffered on the server's side.
        response.pause();
        setTimeout(() => response.resume(), 300);
        response.on("data", (chunk: Buffer) => (received += chunk.length));
        response.on("end", () => resolve(true));
        response.on("error", () => resolve(false));
      });
      outgoing.on("error", () => resolve(false));
      outgoing.end();
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const drained = graceful.drain();
    // Another response finishing during the drain must not cut the large one off either.
    await get("/small").catch(() => undefined);
    expect(await complete).toBe(true);
    expect(received).toBe(bodyBytes);
    await drained;
  });

  it("closes a connection that has not sent a request yet, instead of waiting for it", async () => {
    const { graceful, port } = await startServer((request, response) => response.end("ok"));
    const silent = net.connect(port, "127.0.0.1");
    await new Promise((resolve) => silent.once("connect", resolve));
    // The server must have accepted it before the drain begins.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const closedByServer = new Promise((resolve) => silent.once("close", resolve));
    const started = Date.now();
    await graceful.drain();
    await closedByServer;
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("closes an idle keep-alive connection at once and accepts no new connection", async () => {
    const { server, graceful, get, connect } = await startServer((request, response) => response.end("ok"));
    await get("/warm-up");
    const started = Date.now();
    await graceful.drain();
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(server.listening).toBe(false);
    await expect(connect()).rejects.toMatchObject({ code: "ECONNREFUSED" });
  });
});
