import net from "node:net";
import type { AddressInfo } from "node:net";
import type { Browser, BrowserContext } from "@playwright/test";
import { securityOrigin, securityPort } from "./environment";

/**
 * Chromium cannot choose its source address, and every browser connection to the app would otherwise come
 * from 127.0.0.1 and share that address's sign-in budget (10 per 15 minutes). So a browser context can be
 * given its own source address: it talks to a tiny CONNECT proxy that opens each tunnel to the app from that
 * address. TLS runs end to end inside the tunnel, the page's origin stays https://localhost:PORT, and the
 * proxy refuses to tunnel anywhere but the app (Chromium's own background requests go nowhere).
 */
export interface SourceAddressProxy {
  url: string;
  close(): Promise<void>;
}

export function startSourceAddressProxy(localAddress: string, appPort = securityPort): Promise<SourceAddressProxy> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    client.on("error", () => client.destroy());
    let head = "";
    const onData = (chunk: Buffer): void => {
      head += chunk.toString("latin1");
      const end = head.indexOf("\r\n\r\n");
      if (end === -1) return;
      client.off("data", onData);
      const target = /^CONNECT (localhost|127\.0\.0\.1):(\d+) HTTP\/1\.[01]\r\n/.exec(head);
      if (!target || Number(target[2]) !== appPort) {
        client.end("HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n");
        return;
      }
      const upstream = net.connect({ host: "127.0.0.1", port: appPort, localAddress }, () => {
        client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
        const rest = Buffer.from(head.slice(end + 4), "latin1");
        if (rest.byteLength > 0) upstream.write(rest);
        upstream.pipe(client);
        client.pipe(upstream);
      });
      sockets.add(upstream);
      upstream.on("close", () => {
        sockets.delete(upstream);
        client.destroy();
      });
      upstream.on("error", () => client.destroy());
      client.on("close", () => upstream.destroy());
    };
    client.on("data", onData);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        close: () =>
          new Promise<void>((closed) => {
            for (const socket of sockets) socket.destroy();
            server.close(() => closed());
          }),
      });
    });
  });
}

/** A fresh browser context whose every connection to the app comes from `localAddress`. */
export async function contextFromAddress(
  browser: Browser,
  localAddress: string,
): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const proxy = await startSourceAddressProxy(localAddress);
  const context = await browser.newContext({
    baseURL: securityOrigin,
    ignoreHTTPSErrors: true,
    // Playwright sends localhost through a context's proxy too (it adds Chromium's `<-loopback>` bypass rule).
    proxy: { server: proxy.url },
  });
  return {
    context,
    close: async () => {
      await context.close();
      await proxy.close();
    },
  };
}
