import "./load-environment";
import { closeDatabase } from "@/db/client";
import { seedDemoData } from "@/db/seed-demo-data";
import { env } from "@/lib/env";

try {
  if (env().keyProvider === "pkcs11") {
    // The seed encrypts inside its transaction; on the embedded PGlite the PKCS#11 provider shares that single
    // connection, so its keys are loaded before the transaction starts (lib/crypto/data-key-store.ts).
    const { sharedPkcs11Provider } = await import("@/lib/crypto/pkcs11-provider");
    await sharedPkcs11Provider().preload();
  }
  const result = await seedDemoData();
  process.stdout.write(
    result.created
      ? `demo data seeded; sign-ins written to ${env().demoCredentialsPath}\n`
      : "database already holds users; demo data left as is\n",
  );
} finally {
  await closeDatabase();
}
