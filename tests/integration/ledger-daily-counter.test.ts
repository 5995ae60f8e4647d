import crypto from "node:crypto";
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { database, databaseHandle } from "@/db/client";
import { applyMigrations } from "@/db/migrations";
import { customerLimits } from "@/db/schema";
import { env } from "@/lib/env";
import { postCustomerTransfer } from "@/lib/ledger/post-transfer";
import { parseTransferRequest } from "@/lib/validation/transfer";
import { createTestCustomer, openFundedAccount, savePayee } from "../helpers/ledger-fixtures";
import { useIntegrationEnvironment } from "../helpers/integration-environment";

useIntegrationEnvironment();

beforeAll(async () => {
  await applyMigrations(databaseHandle());
});

describe("the daily outgoing counter", () => {
  it("is not reset by a server whose clock is behind the one that last counted (a later day already counted)", async () => {
    const limits = env().transferLimits;
    const sender = await createTestCustomer("skewed");
    const receiver = await createTestCustomer("skewed-receiver");
    const source = await openFundedAccount(sender, limits.dailyOutgoingMinor);
    const payee = await savePayee(sender, await openFundedAccount(receiver, 0n));
    // Another app server whose clock runs a little ahead has already counted the whole limit on the next
    // UTC day (just after midnight there). This server, a second behind, still thinks it is the day before.
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    await database().insert(customerLimits).values({ userId: sender.userId, limitDay: tomorrow, sentOnDayMinor: limits.dailyOutgoingMinor });
    await expect(
      postCustomerTransfer(
        sender,
        parseTransferRequest({ idempotencyKey: crypto.randomUUID(), memo: "", fromAccountId: source, to: { kind: "payee", payeeId: payee }, amount: "10.00" }),
      ),
    ).rejects.toMatchObject({ code: "limit_exceeded" });
    const [counter] = await database().select().from(customerLimits).where(eq(customerLimits.userId, sender.userId));
    expect(counter).toMatchObject({ limitDay: tomorrow, sentOnDayMinor: limits.dailyOutgoingMinor });
  });
});
