import type { NextRequest } from "next/server";
import { handlers } from "@/lib/auth/auth";
import { problemResponse } from "@/lib/http/problem";
import { requireSameOriginWrite } from "@/lib/http/require-same-origin";

export const GET = handlers.GET;

// Auth.js has its own CSRF token; writes must also come from our own origin (STACK-NOTES trap 12).
export async function POST(request: NextRequest): Promise<Response> {
  try {
    requireSameOriginWrite(request);
  } catch (error) {
    return problemResponse(error);
  }
  return handlers.POST(request);
}
