import { expect, test } from "@playwright/test";
import { observatoryScan } from "./observatory";
import { certificatePath, securityPort } from "./support/environment";

test("the Mozilla HTTP Observatory grades the bank A+ with no failing test", async () => {
  // The scanner is installed on first use (tests/security/tools), which can take a while once.
  test.setTimeout(240_000);
  const scan = await observatoryScan(`localhost:${securityPort}`, { caCertificatePath: certificatePath });
  expect(scan.certificateVerified, "the scan fetched the site with its certificate verified").toBe(true);
  expect(Object.keys(scan.tests), "the scanner ran its header and cookie tests").toEqual(
    expect.arrayContaining([
      "content-security-policy",
      "cookies",
      "referrer-policy",
      "strict-transport-security",
      "x-content-type-options",
      "x-frame-options",
    ]),
  );
  const failing = Object.entries(scan.tests)
    .filter(([, result]) => !result.pass)
    .map(([name, result]) => `${name}: ${result.result} (${result.scoreModifier})`);
  expect(failing, "failing Observatory tests").toEqual([]);
  expect(scan.testsFailed).toBe(0);
  expect(scan.testsPassed).toBe(scan.testsQuantity);
  expect(scan.grade).toBe("A+");
  expect(scan.score).toBeGreaterThanOrEqual(100);
  test.info().annotations.push({ type: "observatory", description: `${scan.grade} (${scan.score}), ${scan.testsPassed}/${scan.testsQuantity} passed` });
});
