import { z } from "zod";
import { accountTransactionsQueryParametersSchema, accountTransactionsResponseSchema } from "@/lib/validation/history";
import { sessionCookieName } from "@/lib/auth/cookie-names";
import {
  accountListSchema,
  createdTransferSchema,
  problemSchema,
  transferApiBodySchema,
  transferConfirmationApiBodySchema,
  transferDetailsSchema,
  whoAmISchema,
} from "@/lib/validation/transfer-api";

/**
 * The OpenAPI 3.1 document of `/api/v1`, generated from the zod schemas the route handlers parse and answer
 * with (lib/validation/transfer-api.ts and friends), so that the documentation cannot drift from the code.
 * Served as JSON at `/api/v1/openapi.json` and rendered as a page at `/docs`. Request bodies are described as
 * the client sends them (`io: "input"`: the amount is text), answers as the server builds them.
 * No `server-only` and no data access: the document is public.
 */

// ---------------------------------------------------------------------------------------------------------
// The query and answer of `GET /api/v1/accounts/{id}/transactions`, shared with its route handler.
const accountHistoryQuerySchema: z.ZodObject | null = accountTransactionsQueryParametersSchema;
const accountHistoryAnswerSchema: z.ZodType | null = accountTransactionsResponseSchema;
// ---------------------------------------------------------------------------------------------------------

export type JsonSchema = Record<string, unknown>;

/** A zod schema as JSON Schema 2020-12 (OpenAPI 3.1's own dialect), without the `$schema` marker. */
function jsonSchemaOf(schema: z.ZodType, io: "input" | "output"): JsonSchema {
  // `unrepresentable: "any"`: a transform's output has no JSON Schema; in input mode none is reached, and a
  // missing piece of documentation must never take the API down.
  const generated: JsonSchema = z.toJSONSchema(schema, { io, target: "draft-2020-12", unrepresentable: "any" });
  delete generated.$schema;
  return generated;
}

const problemContent = { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } };

function problem(description: string) {
  return { description, content: problemContent };
}

function json(schemaName: string, description: string) {
  return { description, content: { "application/json": { schema: { $ref: `#/components/schemas/${schemaName}` } } } };
}

/** The answers every authenticated route can give besides its own. */
const commonProblems = {
  "401": problem("Not signed in, or the session has ended (code `unauthenticated`)."),
  "429": problem("Too many requests from this address (code `rate_limited`); see the RateLimit headers."),
  "500": problem("Something went wrong on the bank's side (code `internal`). Nothing was changed."),
  "503": problem("A service the bank depends on is unavailable (code `unavailable`). Retry later."),
};

const writeProblems = {
  "403": problem(
    "Refused cross-site request (code `cross_site_request`): writes need an `Origin` header equal to the bank's own origin.",
  ),
  "413": problem("The body is larger than the route accepts (code `payload_too_large`)."),
  "415": problem("The body is not `application/json` (code `unsupported_media_type`)."),
};

function queryParametersOf(schema: z.ZodObject): JsonSchema[] {
  const generated = jsonSchemaOf(schema, "input");
  const properties = (generated.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set(Array.isArray(generated.required) ? (generated.required as string[]) : []);
  return Object.entries(properties).map(([name, propertySchema]) => ({
    name,
    in: "query",
    required: required.has(name),
    ...(typeof propertySchema.description === "string" ? { description: propertySchema.description } : {}),
    schema: propertySchema,
  }));
}

const uuidPathParameter = (description: string) => ({
  name: "id",
  in: "path",
  required: true,
  description,
  schema: { type: "string", format: "uuid" },
});

const idempotencyKeyHeader = {
  name: "Idempotency-Key",
  in: "header",
  required: true,
  description:
    "A new key for each transfer, kept when retrying it: 8 to 128 letters, digits, '-' or '_'. A retry with the same " +
    "key and the same body answers with the original transfer and `Idempotent-Replayed: true`; the same key with a " +
    "different body is refused with 422 `idempotency_conflict`.",
  schema: { type: "string", pattern: "^[A-Za-z0-9_-]{8,128}$" },
};

const transferCreatedHeaders = {
  Location: { description: "The new transfer's URL.", schema: { type: "string" } },
  "Idempotent-Replayed": {
    description: "`true` when this answer repeats an earlier request with the same key.",
    schema: { type: "string", enum: ["true"] },
  },
};

function buildOpenApiDocument() {
  return {
    openapi: "3.1.0",
    jsonSchemaDialect: "https://json-schema.org/draft/2020-12/schema",
    info: {
      title: "Harbour Bank API",
      version: "1",
      description:
        "The signed-in customer's accounts and transfers. Authentication is the session cookie of a signed-in " +
        "browser (token authentication for integrations comes later); every write must carry an `Origin` header " +
        "equal to the bank's origin. Amounts are strings: `amountMinor` in minor units (pence) and `amount` in " +
        "major units, never JSON numbers. Errors are RFC 9457 problem documents with a stable `code`. A resource " +
        "that is not the caller's answers 404, exactly like one that does not exist.",
    },
    servers: [{ url: "/" }],
    security: [{ sessionCookie: [] }],
    tags: [
      { name: "Accounts", description: "The caller's accounts and their history." },
      { name: "Transfers", description: "Moving money, idempotently." },
      { name: "Session", description: "Who is signed in." },
      { name: "Documentation", description: "This document." },
    ],
    paths: {
      "/api/v1/accounts": {
        get: {
          tags: ["Accounts"],
          operationId: "listAccounts",
          summary: "List the caller's accounts with posted and available balances",
          responses: { "200": json("AccountList", "The caller's accounts."), ...commonProblems },
        },
      },
      "/api/v1/accounts/{id}/transactions": {
        get: {
          tags: ["Accounts"],
          operationId: "listAccountTransactions",
          summary: "One account's history, newest first, keyset-paginated and filterable",
          parameters: [
            uuidPathParameter("The account's id (one of the caller's)."),
            ...(accountHistoryQuerySchema ? queryParametersOf(accountHistoryQuerySchema) : []),
          ],
          responses: {
            "200": accountHistoryAnswerSchema
              ? json("AccountHistory", "A page of ledger entries and the cursor of the next page.")
              : { description: "A page of ledger entries and the cursor of the next page." },
            "404": problem("No such account among the caller's (code `not_found`)."),
            "422": problem("A filter or cursor is not valid (code `invalid_input`, messages per parameter in `errors`)."),
            ...commonProblems,
          },
        },
      },
      "/api/v1/transfers": {
        post: {
          tags: ["Transfers"],
          operationId: "createTransfer",
          summary: "Move money to another of the caller's accounts or to one of their payees",
          description:
            "Posts the transfer at once (201), or holds it for staff review above the review threshold (202; the " +
            "amount leaves the available balance at once). Above the confirmation threshold, and for the first " +
            "payment to a payee saved in the last 24 hours, the answer is 403 `step_up_required`: confirm with " +
            "`POST /api/v1/transfers/confirmations` and repeat this request unchanged, with the same key.",
          parameters: [idempotencyKeyHeader],
          requestBody: {
            required: true,
            content: { "application/json": { schema: { $ref: "#/components/schemas/TransferRequest" } } },
          },
          responses: {
            "201": { ...json("CreatedTransfer", "Posted (or, for a replay, the original transfer)."), headers: transferCreatedHeaders },
            "202": { ...json("CreatedTransfer", "Held for staff review."), headers: transferCreatedHeaders },
            "400": problem("The `Idempotency-Key` header is missing or malformed (code `invalid_input`)."),
            ...writeProblems,
            "403": problem(
              "Either a refused cross-site request (code `cross_site_request`), or a second-factor confirmation bound " +
                "to this transfer is needed (code `step_up_required`, with `details.confirmationPayloadHash`).",
            ),
            "404": problem("The source account or the payee is not the caller's (code `not_found`)."),
            "422": problem(
              "Refused: `invalid_input` (messages per field in `errors`), `insufficient_funds`, `limit_exceeded`, " +
                "`account_unavailable`, or `idempotency_conflict` (the key was used for a different request).",
            ),
            ...commonProblems,
          },
        },
      },
      "/api/v1/transfers/confirmations": {
        post: {
          tags: ["Transfers"],
          operationId: "confirmTransfer",
          summary: "Confirm one transfer with a code from the authenticator app",
          description:
            "The confirmation is bound to a hash of the amount, source, destination and idempotency key, computed " +
            "by the server from the `transfer` sent here; changing any of them afterwards voids it. It is used up " +
            "by the next `POST /api/v1/transfers` of exactly that transfer within the step-up window.",
          requestBody: {
            required: true,
            content: { "application/json": { schema: { $ref: "#/components/schemas/TransferConfirmation" } } },
          },
          responses: {
            "204": { description: "Confirmed; now repeat the transfer request." },
            ...writeProblems,
            "422": problem("The code is wrong or malformed, or the transfer is not valid (code `invalid_input`)."),
            ...commonProblems,
            "401": problem("Not signed in; or too many wrong codes locked the account and ended the session."),
          },
        },
      },
      "/api/v1/transfers/{id}": {
        get: {
          tags: ["Transfers"],
          operationId: "getTransfer",
          summary: "One transfer the caller made or that touches one of their accounts",
          parameters: [uuidPathParameter("The transfer's id.")],
          responses: {
            "200": json("TransferDetails", "The transfer."),
            "404": problem("No such transfer among the caller's (code `not_found`)."),
            ...commonProblems,
          },
        },
      },
      "/api/v1/whoami": {
        get: {
          tags: ["Session"],
          operationId: "whoAmI",
          summary: "The signed-in customer's id",
          responses: { "200": json("WhoAmI", "The caller."), ...commonProblems },
        },
      },
      "/api/v1/openapi.json": {
        get: {
          tags: ["Documentation"],
          operationId: "getOpenApiDocument",
          summary: "This document",
          security: [],
          responses: { "200": { description: "The OpenAPI 3.1 document.", content: { "application/json": {} } } },
        },
      },
    },
    components: {
      securitySchemes: {
        sessionCookie: {
          type: "apiKey",
          in: "cookie",
          name: sessionCookieName,
          description: "The session cookie set by signing in (password and second factor) in the browser.",
        },
      },
      schemas: {
        AccountList: jsonSchemaOf(accountListSchema, "output"),
        ...(accountHistoryAnswerSchema ? { AccountHistory: jsonSchemaOf(accountHistoryAnswerSchema, "output") } : {}),
        TransferRequest: jsonSchemaOf(transferApiBodySchema, "input"),
        TransferConfirmation: jsonSchemaOf(transferConfirmationApiBodySchema, "input"),
        CreatedTransfer: jsonSchemaOf(createdTransferSchema, "output"),
        TransferDetails: jsonSchemaOf(transferDetailsSchema, "output"),
        WhoAmI: jsonSchemaOf(whoAmISchema, "output"),
        Problem: jsonSchemaOf(problemSchema, "output"),
      },
    },
  };
}

export type OpenApiDocument = ReturnType<typeof buildOpenApiDocument>;

let cachedDocument: OpenApiDocument | undefined;

/** The document, built once per process: it depends only on the code. */
export function openApiDocument(): OpenApiDocument {
  cachedDocument ??= buildOpenApiDocument();
  return cachedDocument;
}
