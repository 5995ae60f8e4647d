import type { NextRequest } from "next/server";
import { handlers } from "@/lib/auth/auth";
import { env } from "@/lib/env";
import { BankError } from "@/lib/errors";
import { problemResponse } from "@/lib/http/problem";
import { isSameOriginRequest } from "@/lib/security/origin";

export const GET = handlers.GET;

// Auth.js has its own CSRF token; writes must also come from our own origin (STACK-NOTES trap 12).
export async function POST(request: NextRequest): Promise<Response> {
  if (!isSameOriginRequest(request.headers, env().appOrigin)) return problemResponse(new BankError("forbidden"));
  return handlers.POST(request);
}
