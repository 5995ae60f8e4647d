/**
 * Who is acting. Every use case in lib/ takes an actor as its first argument: the action wrapper and the
 * route handlers resolve it from the session, scripts and the seed build a system actor. Role and identity
 * are read from the database on every request, never taken from the browser.
 */
export type StaffRole = "admin" | "support" | "auditor";

export interface RequestContext {
  ipAddress: string | null;
  userAgent: string | null;
}

export interface CustomerActor extends RequestContext {
  kind: "customer";
  userId: string;
  role: "customer";
}

export interface StaffActor extends RequestContext {
  kind: "staff";
  userId: string;
  role: StaffRole;
}

export interface SystemActor {
  kind: "system";
  userId: null;
  role: "system";
  /** Why the system acts, recorded in the audit trail (for example `seed`). */
  purpose: string;
}

export type Actor = CustomerActor | StaffActor | SystemActor;

/**
 * A customer or staff member acting through a signed-in session: the actor plus the id of the server-side
 * session record their cookie names. Use cases that manage sessions ("this session", "everywhere else") need it;
 * the others accept it wherever they accept a CustomerActor or StaffActor.
 */
export type SessionActor = (CustomerActor | StaffActor) & { sessionId: string };

export function systemActor(purpose: string): SystemActor {
  return { kind: "system", userId: null, role: "system", purpose };
}
