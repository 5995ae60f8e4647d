import { defineConfig } from "drizzle-kit";

// drizzle-kit only generates SQL from db/schema.ts here; migrations are applied by `npm run db:migrate`
// (db/migrate.ts), which works on both PostgreSQL and the embedded PGlite.
export default defineConfig({
  dialect: "postgresql",
  schema: "./db/schema.ts",
  out: "./drizzle",
  strict: true,
  verbose: true,
});
