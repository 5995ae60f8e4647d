import "server-only";
import { isDatabaseAnswering } from "@/lib/health/check-database";
import { checkKeysAvailable } from "@/lib/crypto";
import { env } from "@/lib/env";
import { logger } from "@/lib/logger";
import { rateLimitRedisClient, untilReady } from "@/lib/security/rate-limit/redis-limiter";
import { isShuttingDown } from "@/lib/shutdown-hooks";

/**
 * Whether this instance can serve the bank's requests: the database answers, Redis answers (when configured;
 * without it the limits are in memory and there is nothing to wait for), and the key provider can reach its
 * keys. A load balancer takes an instance that is not ready out of rotation; liveness (/api/health) stays
 * separate, so that a token or Redis outage does not get every instance restarted.
 *
 * Only the names of the failing parts are returned: never versions, addresses, errors or secrets. The
 * reasons are logged.
 */
export type ReadinessPart = "database" | "redis" | "keys" | "shutdown";

export interface Readiness {
  ready: boolean;
  failing: ReadinessPart[];
}

async function isRedisAnswering(redisUrl: string, tlsCertificateAuthorityFile: string | undefined): Promise<boolean> {
  try {
    // The limiter's own connection: if it answers, the limits work. A brand-new client gets its moment to
    // connect (it has no offline queue); one that lost its connection is reported at once.
    const client = rateLimitRedisClient(redisUrl, tlsCertificateAuthorityFile);
    await untilReady(client);
    return (await client.ping()) === "PONG";
  } catch (error) {
    logger.error({ err: error }, "readiness check: Redis not answering");
    return false;
  }
}

async function areKeysAvailable(): Promise<boolean> {
  try {
    await checkKeysAvailable();
    return true;
  } catch (error) {
    logger.error({ err: error }, "readiness check: keys not available");
    return false;
  }
}

export async function checkReadiness(): Promise<Readiness> {
  // An instance that is shutting down (server.ts, on SIGTERM) is not ready, whatever its parts answer. Its
  // listener is already closed, so only a request on a connection that was open before the signal gets here;
  // the parts are not asked, since the connections they would use are about to close.
  if (isShuttingDown()) return { ready: false, failing: ["shutdown"] };
  const { redisUrl, redisTlsCertificateAuthorityFile } = env();
  const [database, redis, keys] = await Promise.all([
    isDatabaseAnswering(),
    redisUrl ? isRedisAnswering(redisUrl, redisTlsCertificateAuthorityFile) : Promise.resolve(true),
    areKeysAvailable(),
  ]);
  const failing: ReadinessPart[] = [];
  if (!database) failing.push("database");
  if (!redis) failing.push("redis");
  if (!keys) failing.push("keys");
  return { ready: failing.length === 0, failing };
}
