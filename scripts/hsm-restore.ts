/**
 * `npm run hsm:restore -- <archive>`: puts the tokens of an `hsm:backup` archive back into the local SoftHSM2
 * token folder, never over an existing token. The PIN files must be restored separately (they are not in the
 * archive). A running app picks the restored token up on its next call.
 */
import "../db/load-environment";
import { configuredSoftHsmConfig, restoreSoftHsmTokens } from "./softhsm-setup";

const [archive, ...rest] = process.argv.slice(2);
if (!archive || rest.length > 0) {
  console.error("usage: npm run hsm:restore -- <archive.tar.gz>");
  process.exitCode = 2;
} else {
  try {
    const { tokens } = restoreSoftHsmTokens(configuredSoftHsmConfig(), archive);
    process.stdout.write(`restored ${tokens.length} token folder(s) from ${archive}\n`);
  } catch (error) {
    console.error(`hsm:restore failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  }
}
