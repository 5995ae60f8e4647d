/**
 * The HTTP side of the metrics, used by server.ts: the latency of every request on the public port, and the
 * separate listener that serves the registry to Prometheus. No `server-only` marker: server.ts runs outside
 * Next's build.
 */
import http from "node:http";
import { z } from "zod";
import { metrics } from "@/lib/metrics/registry";
import { createRouteTable, routeLabelFor, type RouteTable } from "@/lib/metrics/route-label";

const routesManifestSchema = z.object({
  staticRoutes: z.array(z.object({ page: z.string() })),
  dynamicRoutes: z.array(z.object({ page: z.string() })),
});

/**
 * The route table from the build's route list (the parsed `.next/routes-manifest.json`, which server.ts
 * reads), in Next's own matching order, so that a page added later gets its own label without anyone editing
 * a list here.
 */
export function routeTableFromManifest(manifest: unknown): RouteTable {
  const routes = routesManifestSchema.parse(manifest);
  return createRouteTable(
    routes.staticRoutes.map((route) => route.page),
    routes.dynamicRoutes.map((route) => route.page),
  );
}

const knownMethods: ReadonlySet<string> = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

/**
 * Observes how long the response to this request takes, under its route pattern. `close` rather than
 * `finish`, so that a request whose client went away is still counted (with the status it had by then).
 */
export function observeRequestDuration(table: RouteTable, request: http.IncomingMessage, response: http.ServerResponse): void {
  const started = process.hrtime.bigint();
  response.once("close", () => {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const method = request.method !== undefined && knownMethods.has(request.method) ? request.method : "other";
    metrics().httpRequestDuration.observe(
      { route: routeLabelFor(request.url, table), method, status_class: `${Math.floor(response.statusCode / 100)}xx` },
      seconds,
    );
  });
}

/**
 * Serves `GET /metrics` (Prometheus text format) and nothing else, on its own listener. It is never mounted
 * on the public port: the counts reveal traffic and failure patterns, so the listener binds to loopback by
 * default (METRICS_HOST) and is reached by a scraper on the same host or through a private network. A
 * collection error is handed to `onError` for the log and answered with a bare 500.
 */
export function createMetricsServer(onError: (error: unknown) => void): http.Server {
  return http.createServer((request, response) => {
    const pathname = (request.url ?? "").split("?", 1)[0];
    if (pathname !== "/metrics" || (request.method !== "GET" && request.method !== "HEAD")) {
      response.writeHead(404, { "Content-Type": "text/plain; charset=utf-8" });
      response.end("Not found\n");
      return;
    }
    const { registry } = metrics();
    registry
      .metrics()
      .then((body) => {
        response.writeHead(200, { "Content-Type": registry.contentType, "Cache-Control": "no-store" });
        response.end(request.method === "HEAD" ? undefined : body);
      })
      .catch((error: unknown) => {
        onError(error);
        response.writeHead(500, { "Content-Type": "text/plain; charset=utf-8" });
        response.end("Metrics could not be collected\n");
      });
  });
}
