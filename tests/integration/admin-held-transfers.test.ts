import crypto from "node:crypto";
import { and, count, eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { database, databaseHandle } from "@/db/client";
import { applyMigrations } from "@/db/migrations";
import { auditEvents, stepUpConfirmations, transferReviews, transfers } from "@/db/schema";
import { seedDemoData } from "@/db/seed-demo-data";
import {
  approveHeldTransfer,
  commentOnHeldTransfer,
  listHeldTransfers,
  readHeldTransfer,
  rejectHeldTransfer,
} from "@/lib/admin/held-transfers";
import { permissionMatrix, roleHasPermission, type StaffPermission } from "@/lib/admin/permissions";
import type { Actor, SessionActor, StaffActor, StaffRole } from "@/lib/auth/actor";
import { stepUpOperationHash } from "@/lib/auth/step-up-operations";
import { createSession } from "@/lib/auth/sessions";
import { env } from "@/lib/env";
import { postCustomerTransfer, transferConfirmationPayloadHash } from "@/lib/ledger/post-transfer";
import { useIntegrationEnvironment } from "../helpers/integration-environment";
import { checkLedgerInvariants, createTestCustomer, openFundedAccount, savePayee, soundLedger } from "../helpers/ledger-fixtures";
import { formatMinorPlain } from "../helpers/minor-text";
import { balancesOf, transferRequest, userIdFor } from "../helpers/transfer-fixtures";

useIntegrationEnvironment();

type StaffSession = StaffActor & { sessionId: string };

let ada: StaffSession;
let alan: StaffSession;
let sam: StaffSession;
let audrey: StaffSession;
let customer: SessionActor;

async function signedInStaff(email: string, role: StaffRole): Promise<StaffSession> {
  const userId = await userIdFor(email);
  const sessionId = await createSession(database(), { userId, ipAddress: null, userAgent: null, showLockNotice: false, secondFactorAt: new Date() });
  return { kind: "staff", role, userId, ipAddress: "198.51.100.20", userAgent: "held-transfer-test", sessionId };
}

/** The confirmation a step-up for approving this transfer would have written for this staff member. */
async function confirmApproval(staff: StaffSession, transferId: string): Promise<void> {
  await database().insert(stepUpConfirmations).values({
    id: crypto.randomUUID(),
    sessionId: staff.sessionId,
    payloadHash: stepUpOperationHash("staff_approve_transfer", staff, { transferId }),
    confirmedAt: new Date(),
  });
}

interface HeldTransfer {
  transferId: string;
  source: string;
  destination: string;
  amountMinor: bigint;
  fundedMinor: bigint;
}

/** A fresh customer pays a fresh payee `amountMinor`, above the review threshold, so the payment is held. */
async function heldTransfer(amountMinor: bigint): Promise<HeldTransfer> {
  expect(amountMinor).toBeGreaterThan(env().transferLimits.reviewAboveMinor);
  const sender = await createTestCustomer("held-sender");
  const sessionId = await createSession(database(), { userId: sender.userId, ipAddress: null, userAgent: null, showLockNotice: false, secondFactorAt: new Date() });
  const withSession = { ...sender, sessionId };
  const receiver = await createTestCustomer("held-receiver");
  const fundedMinor = amountMinor + 50_000n;
  const source = await openFundedAccount(withSession, fundedMinor);
  const destination = await openFundedAccount(receiver, 0n);
  const payee = await savePayee(withSession, destination);
  const request = transferRequest({ fromAccountId: source, to: { kind: "payee", payeeId: payee }, amount: formatMinorPlain(amountMinor) });
  await database().insert(stepUpConfirmations).values({ id: crypto.randomUUID(), sessionId, payloadHash: transferConfirmationPayloadHash(request), confirmedAt: new Date() });
  const held = await postCustomerTransfer(withSession, request);
  expect(held.status).toBe("held");
  return { transferId: held.transferId, source, destination, amountMinor, fundedMinor };
}

/** Everything a refusal must leave unchanged. */
async function stateOf(held: HeldTransfer) {
  const [transfer] = await database().select({ status: transfers.status }).from(transfers).where(eq(transfers.id, held.transferId));
  const [reviews] = await database().select({ n: count() }).from(transferReviews).where(eq(transferReviews.transferId, held.transferId));
  const [events] = await database()
    .select({ n: count() })
    .from(auditEvents)
    .where(and(eq(auditEvents.targetType, "transfer"), eq(auditEvents.targetId, held.transferId)));
  return {
    status: transfer?.status,
    reviews: reviews?.n,
    events: events?.n,
    source: await balancesOf(held.source),
    destination: await balancesOf(held.destination),
  };
}

async function eventsFor(transferId: string): Promise<string[]> {
  const rows = await database()
    .select({ action: auditEvents.action })
    .from(auditEvents)
    .where(and(eq(auditEvents.targetType, "transfer"), eq(auditEvents.targetId, transferId)))
    .orderBy(auditEvents.sequence);
  return rows.map((row) => row.action);
}

function expectPosted(held: HeldTransfer, after: { source: { balanceMinor: bigint; availableMinor: bigint }; destination: { balanceMinor: bigint; availableMinor: bigint } }) {
  const remaining = held.fundedMinor - held.amountMinor;
  expect(after.source).toEqual({ balanceMinor: remaining, availableMinor: remaining });
  expect(after.destination).toEqual({ balanceMinor: held.amountMinor, availableMinor: held.amountMinor });
}

const small = () => env().transferLimits.reviewAboveMinor + 100n;
const large = () => env().transferLimits.secondApproverAboveMinor + 1n;

beforeAll(async () => {
  await applyMigrations(databaseHandle());
  const seeded = await seedDemoData();
  const aCustomer = seeded.signIns.find((signIn) => signIn.role === "customer");
  if (!aCustomer) throw new Error("seed");
  ada = await signedInStaff("ada.admin@example.com", "admin");
  alan = await signedInStaff("alan.admin@example.com", "admin");
  sam = await signedInStaff("sam.support@example.com", "support");
  audrey = await signedInStaff("audrey.auditor@example.com", "auditor");
  const customerId = await userIdFor(aCustomer.email);
  const customerSession = await createSession(database(), { userId: customerId, ipAddress: null, userAgent: null, showLockNotice: false, secondFactorAt: new Date() });
  customer = { kind: "customer", role: "customer", userId: customerId, ipAddress: null, userAgent: null, sessionId: customerSession };
});

describe("held-transfer review with four eyes", () => {
  it("refuses the first reviewer's approval; another staff member's approval posts the transfer", async () => {
    const held = await heldTransfer(small());
    const queue = await listHeldTransfers(sam);
    const entry = queue.transfers.find((transfer) => transfer.transferId === held.transferId);
    expect(entry).toMatchObject({ amountMinor: held.amountMinor, approvals: 0, approvalsNeeded: 1, needsSecondApprover: false, status: "held" });
    expect(entry?.fromAccount).toMatch(/^•••• \d{4}$/);

    // Nobody may approve before someone else has reviewed it.
    await confirmApproval(ada, held.transferId);
    await expect(approveHeldTransfer(ada, held.transferId)).rejects.toMatchObject({ code: "conflict" });

    await commentOnHeldTransfer(alan, held.transferId, "Checked the payee's history: first payment, large.");
    await confirmApproval(alan, held.transferId);
    const before = await stateOf(held);
    await expect(approveHeldTransfer(alan, held.transferId)).rejects.toMatchObject({ code: "conflict" });
    // Support reviews but never approves: for Sam the action does not exist.
    await expect(approveHeldTransfer(sam, held.transferId)).rejects.toMatchObject({ code: "not_found" });
    expect(await stateOf(held)).toEqual(before);

    await expect(approveHeldTransfer(ada, held.transferId, "Looks right.")).resolves.toMatchObject({ status: "posted", approvals: 1, approvalsNeeded: 1 });
    expectPosted(held, await stateOf(held));
    expect(await eventsFor(held.transferId)).toEqual(["ledger.transfer.held", "staff.transfer.commented", "ledger.transfer.approved"]);
    const detail = await readHeldTransfer(alan, held.transferId);
    expect(detail).toMatchObject({ status: "posted", firstReviewerId: alan.userId, approvals: 1 });
    expect(detail.reviews.map((review) => [review.kind, review.staffUserId])).toEqual([
      ["comment", alan.userId],
      ["approval", ada.userId],
    ]);
    // Decided: no longer in the queue, and nothing more can be added.
    expect((await listHeldTransfers(sam)).transfers.some((transfer) => transfer.transferId === held.transferId)).toBe(false);
    await expect(commentOnHeldTransfer(alan, held.transferId, "late")).rejects.toMatchObject({ code: "conflict" });
    // Reviews are history: neither the app's role nor a trigger lets them change.
    await expect(database().update(transferReviews).set({ note: "edited" }).where(eq(transferReviews.transferId, held.transferId))).rejects.toThrow();
    await expect(database().delete(transferReviews).where(eq(transferReviews.transferId, held.transferId))).rejects.toThrow();
    expect(await checkLedgerInvariants(env().transferLimits.dailyOutgoingMinor)).toEqual(soundLedger);
  });

  it("above the threshold: one approval leaves it held, the same approver twice is refused, a second approver posts it", async () => {
    const held = await heldTransfer(large());
    await commentOnHeldTransfer(sam, held.transferId, "Large payment; calling the customer.");
    await confirmApproval(ada, held.transferId);
    await expect(approveHeldTransfer(ada, held.transferId)).resolves.toMatchObject({ status: "held", approvals: 1, approvalsNeeded: 2 });
    expect((await stateOf(held)).source.balanceMinor).toBe(held.fundedMinor);
    expect((await listHeldTransfers(audrey)).transfers.find((transfer) => transfer.transferId === held.transferId)).toMatchObject({
      approvals: 1,
      approvalsNeeded: 2,
      needsSecondApprover: true,
    });

    await confirmApproval(ada, held.transferId);
    const before = await stateOf(held);
    await expect(approveHeldTransfer(ada, held.transferId)).rejects.toMatchObject({ code: "conflict" });
    expect(await stateOf(held)).toEqual(before);

    await confirmApproval(alan, held.transferId);
    await expect(approveHeldTransfer(alan, held.transferId)).resolves.toMatchObject({ status: "posted", approvals: 2 });
    expectPosted(held, await stateOf(held));
    expect(await eventsFor(held.transferId)).toEqual([
      "ledger.transfer.held",
      "staff.transfer.commented",
      "staff.transfer.approval_recorded",
      "ledger.transfer.approved",
    ]);
    expect(await checkLedgerInvariants(env().transferLimits.dailyOutgoingMinor)).toEqual(soundLedger);
  });

  it("rejecting releases the hold, and the first reviewer may reject", async () => {
    const held = await heldTransfer(small());
    expect((await balancesOf(held.source)).availableMinor).toBe(held.fundedMinor - held.amountMinor);
    await commentOnHeldTransfer(sam, held.transferId, "Payee account opened yesterday.");
    await expect(rejectHeldTransfer(sam, held.transferId, "   ")).rejects.toMatchObject({ code: "invalid_input" });
    await expect(rejectHeldTransfer(sam, held.transferId, "Could not reach the customer.")).resolves.toEqual({ transferId: held.transferId, status: "rejected" });
    const after = await stateOf(held);
    expect(after.source).toEqual({ balanceMinor: held.fundedMinor, availableMinor: held.fundedMinor });
    expect(after.destination).toEqual({ balanceMinor: 0n, availableMinor: 0n });
    expect(await eventsFor(held.transferId)).toEqual(["ledger.transfer.held", "staff.transfer.commented", "ledger.transfer.rejected"]);
    await confirmApproval(ada, held.transferId);
    await expect(approveHeldTransfer(ada, held.transferId)).rejects.toMatchObject({ code: "conflict" });
    expect(await checkLedgerInvariants(env().transferLimits.dailyOutgoingMinor)).toEqual(soundLedger);
  });

  it("parallel approvals by two staff members on a large transfer post it exactly once", async () => {
    const held = await heldTransfer(large());
    await commentOnHeldTransfer(sam, held.transferId, "Verified by phone.");
    await confirmApproval(ada, held.transferId);
    await confirmApproval(alan, held.transferId);
    const outcomes = await Promise.all([approveHeldTransfer(ada, held.transferId), approveHeldTransfer(alan, held.transferId)]);
    expect(outcomes.map((outcome) => outcome.status).sort()).toEqual(["held", "posted"]);
    expectPosted(held, await stateOf(held));
    const events = await eventsFor(held.transferId);
    expect(events.filter((action) => action === "ledger.transfer.approved")).toHaveLength(1);
    expect(events.filter((action) => action === "staff.transfer.approval_recorded")).toHaveLength(1);
    expect(await checkLedgerInvariants(env().transferLimits.dailyOutgoingMinor)).toEqual(soundLedger);
  });

  it("one person approving twice in parallel counts once", async () => {
    const held = await heldTransfer(large());
    await commentOnHeldTransfer(sam, held.transferId, "Verified by phone.");
    await confirmApproval(ada, held.transferId);
    await confirmApproval(ada, held.transferId);
    const outcomes = await Promise.allSettled([approveHeldTransfer(ada, held.transferId), approveHeldTransfer(ada, held.transferId)]);
    expect(outcomes.filter((outcome) => outcome.status === "fulfilled")).toHaveLength(1);
    const after = await stateOf(held);
    expect(after.status).toBe("held");
    expect(after.source.balanceMinor).toBe(held.fundedMinor);
    expect((await readHeldTransfer(ada, held.transferId)).approvals).toBe(1);
  });

  it("asks for a step-up bound to the transfer before an approval, and changes nothing without it", async () => {
    const held = await heldTransfer(small());
    const other = await heldTransfer(small());
    await commentOnHeldTransfer(sam, held.transferId, "Fine by me.");
    const before = await stateOf(held);
    await expect(approveHeldTransfer(ada, held.transferId)).rejects.toMatchObject({ code: "step_up_required" });
    // A confirmation for another transfer does not approve this one.
    await confirmApproval(ada, other.transferId);
    await expect(approveHeldTransfer(ada, held.transferId)).rejects.toMatchObject({ code: "step_up_required" });
    expect(await stateOf(held)).toEqual(before);
  });

  describe("refusals generated from the permission matrix answer not_found and change nothing", () => {
    const operations: Array<{ name: string; permission: StaffPermission; run: (actor: Actor, transferId: string) => Promise<unknown> }> = [
      { name: "listHeldTransfers", permission: "transfers.read_held", run: (actor) => listHeldTransfers(actor) },
      { name: "readHeldTransfer", permission: "transfers.read_held", run: (actor, id) => readHeldTransfer(actor, id) },
      { name: "commentOnHeldTransfer", permission: "transfers.comment", run: (actor, id) => commentOnHeldTransfer(actor, id, "a note") },
      { name: "approveHeldTransfer", permission: "transfers.approve", run: (actor, id) => approveHeldTransfer(actor, id) },
      { name: "rejectHeldTransfer", permission: "transfers.reject", run: (actor, id) => rejectHeldTransfer(actor, id, "a reason") },
    ];
    const roles: Array<"customer" | StaffRole> = ["customer", ...(Object.keys(permissionMatrix) as StaffRole[])];
    const cases = roles.flatMap((role) =>
      operations
        .filter((operation) => role === "customer" || !roleHasPermission(role, operation.permission))
        .map((operation) => ({ role, ...operation })),
    );

    it("has cases for customers and auditors", () => {
      expect(cases.some((refusal) => refusal.role === "customer")).toBe(true);
      expect(cases.some((refusal) => refusal.role === "auditor" && refusal.name === "approveHeldTransfer")).toBe(true);
    });

    it.each(cases)("$role: $name", async ({ role, run }) => {
      const held = await heldTransfer(small());
      await commentOnHeldTransfer(sam, held.transferId, "Reviewed.");
      const actor: Actor = role === "customer" ? customer : { ada, alan, sam, audrey }[role === "admin" ? "ada" : role === "support" ? "sam" : "audrey"];
      const before = await stateOf(held);
      await expect(run(actor, held.transferId)).rejects.toMatchObject({ code: "not_found" });
      expect(await stateOf(held)).toEqual(before);
    });
  });
});
