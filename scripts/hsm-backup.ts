/**
 * `npm run hsm:backup -- <archive>`: copies the local SoftHSM2 tokens (the bank's key-encryption key and
 * password pepper) into a gzip'd tar archive with mode 0600. The PIN files are not included: keep them apart
 * from the archive. Without a copy of the token, losing the token folder loses every encrypted field.
 * A real HSM is backed up or cloned with its vendor's tools instead (README, Data protection).
 */
import "../db/load-environment";
import { backupSoftHsmTokens, configuredSoftHsmConfig } from "./softhsm-setup";

const [archive, ...rest] = process.argv.slice(2);
if (!archive || rest.length > 0) {
  console.error("usage: npm run hsm:backup -- <archive.tar.gz>");
  process.exitCode = 2;
} else {
  try {
    const { tokens } = backupSoftHsmTokens(configuredSoftHsmConfig(), archive);
    process.stdout.write(`backed up ${tokens.length} token folder(s) to ${archive} (mode 0600, PINs not included)\n`);
  } catch (error) {
    console.error(`hsm:backup failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  }
}
