import net from "node:net";

/**
 * A TCP port on 127.0.0.1 that nothing listens on right now, for a server a test starts itself. The port is
 * released before the server takes it, so another process could in principle take it first; the tests that
 * use this start their server at once and fail loudly if it cannot listen.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}
