import "server-only";
import { sql } from "drizzle-orm";
import { database } from "@/db/client";
import { logger } from "@/lib/logger";

/** True when the database answers a trivial query. The reason for a failure is logged, never returned. */
export async function isDatabaseAnswering(): Promise<boolean> {
  try {
    await database().execute(sql`select 1`);
    return true;
  } catch (error) {
    logger.error({ err: error }, "health check: database not answering");
    return false;
  }
}
