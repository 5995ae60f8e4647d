import "server-only";
import { parseEnvironment, type Environment } from "@/lib/env-schema";

// Validated on first use and then frozen. server.ts validates the same schema before it starts listening,
// so a misconfigured production instance refuses to start instead of failing on its first request.
let cached: Environment | undefined;

export function env(): Environment {
  cached ??= Object.freeze(parseEnvironment(process.env));
  return cached;
}
