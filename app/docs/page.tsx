import type { Metadata } from "next";
import type { ReactNode } from "react";
import { type JsonSchema, openApiDocument } from "@/lib/http/openapi";
import styles from "./docs.module.css";

export const metadata: Metadata = { title: "API documentation" };

/**
 * The OpenAPI document of /api/v1 rendered as plain server-side HTML: no client component, no third-party
 * script, font or stylesheet (the page runs under the same nonce CSP as every other page, and a CDN-hosted
 * viewer would be a supply-chain risk on a bank's origin). Public: the document reveals no customer data.
 */

type SchemaNode = JsonSchema;

const httpMethods = ["get", "post", "put", "patch", "delete"] as const;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function referenceName(schema: SchemaNode): string | null {
  const reference = schema.$ref;
  return typeof reference === "string" ? reference.replace("#/components/schemas/", "") : null;
}

function anchorOf(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
}

/** A one-line summary of a schema's type and constraints, e.g. `string (uuid)` or `string, ≤ 64 characters`. */
function typeSummary(schema: SchemaNode): string {
  const name = referenceName(schema);
  if (name) return name;
  if ("const" in schema) return `"${String(schema.const)}"`;
  if (Array.isArray(schema.enum)) return schema.enum.map((value) => JSON.stringify(value)).join(" | ");
  const parts: string[] = [];
  const type = Array.isArray(schema.type) ? schema.type.join(" | ") : typeof schema.type === "string" ? schema.type : "";
  if (Array.isArray(schema.anyOf)) {
    parts.push(schema.anyOf.filter(isRecord).map(typeSummary).join(" | "));
  } else if (type === "array" && isRecord(schema.items)) {
    parts.push(`array of ${typeSummary(schema.items)}`);
  } else if (type) {
    parts.push(typeof schema.format === "string" ? `${type} (${schema.format})` : type);
  }
  if (typeof schema.minLength === "number" && schema.minLength === schema.maxLength) {
    parts.push(`exactly ${schema.minLength} characters`);
  } else if (typeof schema.maxLength === "number") {
    parts.push(`≤ ${schema.maxLength} characters`);
  }
  if (typeof schema.pattern === "string" && typeof schema.format !== "string") parts.push(`pattern ${schema.pattern}`);
  return parts.join(", ") || "any";
}

/** Descriptions use `backticks` for code, as in Markdown; only that is rendered, as <code>, never as HTML. */
function InlineText({ text }: { text: string }): ReactNode {
  const parts = text.split("`");
  return parts.map((part, index) => (index % 2 === 1 ? <code key={index}>{part}</code> : part));
}

/** A component schema by name, to show a request body's fields in place instead of a link. */
function componentSchema(name: string | null): SchemaNode | null {
  if (name === null) return null;
  const schemas: Record<string, SchemaNode> = openApiDocument().components.schemas;
  return schemas[name] ?? null;
}

function SchemaView({ schema, depth = 0 }: { schema: SchemaNode; depth?: number }): ReactNode {
  const name = referenceName(schema);
  if (name) {
    return (
      <a className={styles.reference} href={`#schema-${anchorOf(name)}`}>
        {name}
      </a>
    );
  }
  if (depth > 6) return <span className={styles.type}>{typeSummary(schema)}</span>;

  if (Array.isArray(schema.oneOf)) {
    return (
      <div className={styles.variants}>
        <p className={styles.hint}>One of:</p>
        <ol>
          {schema.oneOf.filter(isRecord).map((variant, index) => (
            <li key={index}>
              <SchemaView schema={variant} depth={depth + 1} />
            </li>
          ))}
        </ol>
      </div>
    );
  }

  if (schema.type === "array" && isRecord(schema.items) && isRecord(schema.items.properties)) {
    return (
      <div>
        <p className={styles.hint}>An array of:</p>
        <SchemaView schema={schema.items} depth={depth + 1} />
      </div>
    );
  }

  if (isRecord(schema.properties)) {
    const required = new Set(Array.isArray(schema.required) ? schema.required.map(String) : []);
    return (
      <table className={styles.fields}>
        <thead>
          <tr>
            <th scope="col">Field</th>
            <th scope="col">Type</th>
            <th scope="col">Description</th>
          </tr>
        </thead>
        <tbody>
          {Object.entries(schema.properties).map(([field, value]) => {
            const property = isRecord(value) ? value : {};
            const nested = isRecord(property.properties) || Array.isArray(property.oneOf) ||
              (property.type === "array" && isRecord(property.items) && isRecord(property.items.properties));
            return (
              <tr key={field}>
                <td>
                  <code>{field}</code>
                  {required.has(field) ? <span className={styles.required}> required</span> : null}
                </td>
                <td>{nested ? <SchemaView schema={property} depth={depth + 1} /> : <code>{typeSummary(property)}</code>}</td>
                <td>{typeof property.description === "string" ? <InlineText text={property.description} /> : ""}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    );
  }

  return <code className={styles.type}>{typeSummary(schema)}</code>;
}

function contentSchemas(content: unknown): { mediaType: string; schema: SchemaNode | null }[] {
  if (!isRecord(content)) return [];
  return Object.entries(content).map(([mediaType, value]) => ({
    mediaType,
    schema: isRecord(value) && isRecord(value.schema) ? value.schema : null,
  }));
}

function Operation({ method, path, operation }: { method: string; path: string; operation: Record<string, unknown> }) {
  const parameters = Array.isArray(operation.parameters) ? operation.parameters.filter(isRecord) : [];
  const requestBody = isRecord(operation.requestBody) ? operation.requestBody : null;
  const responses = isRecord(operation.responses) ? operation.responses : {};
  const isPublic = Array.isArray(operation.security) && operation.security.length === 0;
  const id = typeof operation.operationId === "string" ? operation.operationId : `${method}-${path}`;
  return (
    <section className={styles.operation} id={anchorOf(id)} data-testid="operation">
      <h3 className={styles.operationTitle}>
        <span className={`${styles.method} ${styles[`method-${method}`] ?? ""}`}>{method.toUpperCase()}</span>{" "}
        <code>{path}</code>
      </h3>
      {typeof operation.summary === "string" ? <p className={styles.summary}>{operation.summary}</p> : null}
      {typeof operation.description === "string" ? (
        <p>
          <InlineText text={operation.description} />
        </p>
      ) : null}
      <p className={styles.hint}>{isPublic ? "Public: no sign-in needed." : "Needs the session cookie of a signed-in customer."}</p>

      {parameters.length > 0 ? (
        <>
          <h4>Parameters</h4>
          <table className={styles.fields}>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">In</th>
                <th scope="col">Type</th>
                <th scope="col">Description</th>
              </tr>
            </thead>
            <tbody>
              {parameters.map((parameter) => (
                <tr key={`${String(parameter.in)}-${String(parameter.name)}`}>
                  <td>
                    <code>{String(parameter.name)}</code>
                    {parameter.required === true ? <span className={styles.required}> required</span> : null}
                  </td>
                  <td>{String(parameter.in)}</td>
                  <td>
                    <code>{isRecord(parameter.schema) ? typeSummary(parameter.schema) : "any"}</code>
                  </td>
                  <td>{typeof parameter.description === "string" ? <InlineText text={parameter.description} /> : ""}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      ) : null}

      {requestBody ? (
        <>
          <h4>Request body</h4>
          {contentSchemas(requestBody.content).map(({ mediaType, schema }) => (
            <div key={mediaType}>
              <p className={styles.hint}>
                <code>{mediaType}</code>
              </p>
              {schema ? <SchemaView schema={componentSchema(referenceName(schema)) ?? schema} /> : null}
            </div>
          ))}
        </>
      ) : null}

      <h4>Responses</h4>
      <table className={styles.fields}>
        <thead>
          <tr>
            <th scope="col">Status</th>
            <th scope="col">Meaning</th>
            <th scope="col">Body</th>
          </tr>
        </thead>
        <tbody>
          {Object.entries(responses).map(([status, value]) => {
            const response = isRecord(value) ? value : {};
            return (
              <tr key={status}>
                <td>
                  <code>{status}</code>
                </td>
                <td>{typeof response.description === "string" ? <InlineText text={response.description} /> : ""}</td>
                <td>
                  {contentSchemas(response.content).map(({ mediaType, schema }) => (
                    <div key={mediaType}>
                      <code>{mediaType}</code> {schema ? <SchemaView schema={schema} /> : null}
                    </div>
                  ))}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </section>
  );
}

export default function ApiDocumentationPage() {
  const document = openApiDocument();
  const operations = Object.entries(document.paths).flatMap(([path, item]) =>
    httpMethods.flatMap((method) => {
      const operation: unknown = (item as Record<string, unknown>)[method];
      return isRecord(operation) ? [{ path, method, operation }] : [];
    }),
  );
  return (
    <main className="shell">
      <header className={styles.header}>
        <p className="brand">Harbour Bank</p>
        <h1>{document.info.title}</h1>
        <p className={styles.hint}>
          OpenAPI {document.openapi}, version {document.info.version}. Machine-readable:{" "}
          <a href="/api/v1/openapi.json">/api/v1/openapi.json</a>
        </p>
        <p>
          <InlineText text={document.info.description} />
        </p>
      </header>

      <nav aria-label="Operations" className={`card ${styles.contents}`}>
        <h2>Operations</h2>
        <ul>
          {operations.map(({ path, method, operation }) => (
            <li key={`${method} ${path}`}>
              <a href={`#${anchorOf(typeof operation.operationId === "string" ? operation.operationId : `${method}-${path}`)}`}>
                <span className={styles.methodText}>{method.toUpperCase()}</span> {path}
              </a>
            </li>
          ))}
        </ul>
      </nav>

      <section className={styles.group}>
        <h2>Authentication</h2>
        <p>
          Send the session cookie <code>{document.components.securitySchemes.sessionCookie.name}</code> that signing in
          sets. Every request that changes something must carry an <code>Origin</code> header equal to the bank&apos;s
          own origin; anything else is refused with <code>403 cross_site_request</code>.
        </p>
        <h2>Errors</h2>
        <p>
          Every error is an RFC 9457 problem document (<code>application/problem+json</code>) with a stable{" "}
          <code>code</code>, a <code>title</code> that can be shown as it is, messages per field in <code>errors</code>,
          and sometimes <code>details</code>. Something that is not yours answers <code>404</code>, exactly like
          something that does not exist.
        </p>
      </section>

      <section className={styles.group}>
        <h2>Operations</h2>
        {operations.map(({ path, method, operation }) => (
          <Operation key={`${method} ${path}`} method={method} path={path} operation={operation} />
        ))}
      </section>

      <section className={styles.group}>
        <h2>Schemas</h2>
        {Object.entries(document.components.schemas).map(([name, schema]) => (
          <section key={name} id={`schema-${anchorOf(name)}`} className={styles.schema} data-testid="schema">
            <h3>{name}</h3>
            {typeof schema.description === "string" ? <p>{schema.description}</p> : null}
            <SchemaView schema={schema} />
          </section>
        ))}
      </section>
    </main>
  );
}
