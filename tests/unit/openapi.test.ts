import crypto from "node:crypto";
import { describe, expect, it } from "vitest";
import { createdTransferJson, transferDetailsJson } from "@/app/api/v1/transfers/transfer-json";
import { openApiDocument } from "@/lib/http/openapi";
import { parseTransferRequest } from "@/lib/validation/transfer";
import { createdTransferSchema, transferApiBodySchema, transferDetailsSchema } from "@/lib/validation/transfer-api";

function referencesIn(value: unknown, found: string[] = []): string[] {
  if (Array.isArray(value)) for (const item of value) referencesIn(item, found);
  else if (typeof value === "object" && value !== null) {
    for (const [key, inner] of Object.entries(value)) {
      if (key === "$ref" && typeof inner === "string") found.push(inner);
      else referencesIn(inner, found);
    }
  }
  return found;
}

describe("the OpenAPI document", () => {
  const document = openApiDocument();

  it("is OpenAPI 3.1 and every $ref names a schema it defines", () => {
    expect(document.openapi).toBe("3.1.0");
    const references = referencesIn(document);
    expect(references.length).toBeGreaterThan(10);
    for (const reference of references) {
      expect(reference).toMatch(/^#\/components\/schemas\//);
      expect(Object.keys(document.components.schemas)).toContain(reference.replace("#/components/schemas/", ""));
    }
  });

  it("describes the request body as clients send it: the amount is text, the key is a header", () => {
    const body = document.components.schemas.TransferRequest as { properties: Record<string, { type?: string }>; required: string[] };
    expect(body.properties.amount?.type).toBe("string");
    expect(Object.keys(body.properties)).not.toContain("idempotencyKey");
    expect(body.required).toEqual(expect.arrayContaining(["fromAccountId", "to", "amount"]));
    const post = document.paths["/api/v1/transfers"].post;
    expect(post.parameters).toEqual([expect.objectContaining({ name: "Idempotency-Key", in: "header", required: true })]);
    expect(Object.keys(post.responses)).toEqual(expect.arrayContaining(["201", "202", "400", "403", "404", "422"]));
  });

  it("the body schema refuses an idempotency key in the body and an amount sent as a JSON number", () => {
    const accountId = crypto.randomUUID();
    const valid = { fromAccountId: crypto.randomUUID(), to: { kind: "own_account", accountId }, amount: "12.34" };
    expect(transferApiBodySchema.safeParse(valid).success).toBe(true);
    expect(transferApiBodySchema.safeParse({ ...valid, idempotencyKey: "abcdefgh" }).success).toBe(false);
    expect(transferApiBodySchema.safeParse({ ...valid, amount: 12.34 }).success).toBe(false);
  });
});

describe("the transfer answers match the schemas the document is generated from", () => {
  it("a created transfer", () => {
    const request = parseTransferRequest({
      fromAccountId: crypto.randomUUID(),
      to: { kind: "own_account", accountId: crypto.randomUUID() },
      amount: "1000.05",
      memo: "Rent",
      idempotencyKey: "key-12345678",
    });
    const json = createdTransferJson({ transferId: crypto.randomUUID(), status: "held", replayed: false }, request);
    expect(createdTransferSchema.parse(json).transfer).toMatchObject({ amountMinor: "100005", amount: "1000.05", status: "held" });
  });

  it("a transfer read back", () => {
    const json = transferDetailsJson({
      id: crypto.randomUUID(),
      status: "posted",
      kind: "internal",
      direction: "outgoing",
      amountMinor: 5n,
      currency: "GBP",
      fromAccountId: crypto.randomUUID(),
      fromAccountNumber: "12345678",
      toAccountId: null,
      toAccountNumber: null,
      payeeName: null,
      memo: "",
      createdAt: new Date("2026-11-28T08:00:00Z"),
      postedAt: null,
    });
    expect(transferDetailsSchema.parse(json).transfer).toMatchObject({ amountMinor: "5", amount: "0.05", postedAt: null });
  });
});
