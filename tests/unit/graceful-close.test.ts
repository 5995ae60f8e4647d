import http from "node:http";
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
  return { server, graceful, get, connect };
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
