import crypto from "node:crypto";
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { database, databaseHandle } from "@/db/client";
import { applyMigrations } from "@/db/migrations";
import { customerLimits } from "@/db/schema";
import { env } from "@/lib/env";
import { assert } from "@/lib/errors";
import { reverseTransfer } from "@/lib/ledger/decide-transfers";
import { postCustomerTransfer } from "@/lib/ledger/post-transfer";
import { parseTransferRequest } from "@/lib/validation/transfer";
import { createTestCustomer, openFundedAccount, savePayee } from "../helpers/ledger-fixtures";
import { useIntegrationEnvironment } from "../helpers/integration-environment";
import { formatMinorPlain } from "../helpers/minor-text";

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

  it("gives a reversed payment back to the day's limit, so the customer can send it again", async () => {
    const limits = env().transferLimits;
    const sender = await createTestCustomer("reversed");
    const receiver = await createTestCustomer("reversed-receiver");
    const source = await openFundedAccount(sender, 2n * limits.dailyOutgoingMinor);
    const payee = await savePayee(sender, await openFundedAccount(receiver, 0n));
    // Up to the confirmation threshold a payment to a payee saved days ago posts at once, without a code;
    // enough of them fill the day's limit exactly.
    const paymentMinor = limits.confirmationAboveMinor;
    const payments = Number(limits.dailyOutgoingMinor / paymentMinor);
    assert(limits.dailyOutgoingMinor % paymentMinor === 0n, "the limit is a whole number of payments");
    const send = (amountMinor: bigint) =>
      postCustomerTransfer(
        sender,
        parseTransferRequest({
          idempotencyKey: crypto.randomUUID(),
          memo: "",
          fromAccountId: source,
          to: { kind: "payee", payeeId: payee },
          amount: formatMinorPlain(amountMinor),
        }),
      );
    const sent = [];
    for (let index = 0; index < payments; index += 1) sent.push(await send(paymentMinor));
    await expect(send(100n)).rejects.toMatchObject({ code: "limit_exceeded" });

    const first = sent[0];
    if (!first) throw new Error("no payment was sent");
    await reverseTransfer({ kind: "system", userId: null, role: "system", purpose: "test" }, first.transferId, "sent in error");
    const [counter] = await database().select().from(customerLimits).where(eq(customerLimits.userId, sender.userId));
    expect(counter?.sentOnDayMinor).toBe(limits.dailyOutgoingMinor - paymentMinor);
    await expect(send(paymentMinor)).resolves.toMatchObject({ status: "posted" });
    await expect(send(100n)).rejects.toMatchObject({ code: "limit_exceeded" });
  });
});
