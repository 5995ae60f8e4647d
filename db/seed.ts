import "./load-environment";
import { closeDatabase } from "@/db/client";
import { seedDemoData } from "@/db/seed-demo-data";
import { env } from "@/lib/env";

try {
  const result = await seedDemoData();
  process.stdout.write(
    result.created
      ? `demo data seeded; sign-ins written to ${env().demoCredentialsPath}\n`
      : "database already holds users; demo data left as is\n",
  );
} finally {
  await closeDatabase();
}
