import "server-only";
import { parseEnvironment, type Environment } from "@/lib/env-schema";

// Validated on first use and then frozen. server.ts validates the same schema before it starts listening,
// so a misconfigured production instance refuses to start instead of failing on its first request.
let cached: Environment | undefined;

export function env(): Environment {
  cached ??= Object.freeze(parseEnvironment(process.env));
  return cached;
}

/**
 * Forgets the validated configuration, so that the next `env()` reads `process.env` again. Only tests call it,
 * to run one file under more than one mail configuration; it refuses outside NODE_ENV=test, so that the
 * configuration of a running server can never change under it.
 */
export function forgetEnvironmentForTests(): void {
  if (process.env.NODE_ENV !== "test") {
    throw new Error("forgetEnvironmentForTests may only be called when NODE_ENV is test");
  }
  cached = undefined;
}
