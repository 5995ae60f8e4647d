import { env } from "@/lib/env";
import { BankError } from "@/lib/errors";
import { jsonResponse, problemResponse } from "@/lib/http/problem";
import { largestMailboxListing, listDevelopmentMailbox } from "@/lib/mail/development-mailbox";
import { maximumEmailLength } from "@/lib/validation/fields";

export const dynamic = "force-dynamic";

/**
 * The development mailbox as JSON, for end-to-end tests that follow an emailed link: `{ messages: [...] }`,
 * newest first; `?to=` keeps the messages to one address (compared after normalisation). Answers 404 wherever
 * the mailbox page does, and is never cached.
 */
export async function GET(request: Request): Promise<Response> {
  try {
    // The gate comes before any validation, so that a disabled mailbox answers every request the same way.
    if (!env().mail.developmentMailboxEnabled) throw new BankError("not_found");
    const to = new URL(request.url).searchParams.get("to");
    if (to !== null && (to.trim().length === 0 || to.length > maximumEmailLength)) {
      throw new BankError("invalid_input", { fieldErrors: { to: ["Give one email address."] } });
    }
    const messages = await listDevelopmentMailbox(largestMailboxListing, to === null ? {} : { to });
    return jsonResponse({
      messages: messages.map((message) => ({
        id: message.id,
        to: message.to,
        subject: message.subject,
        text: message.text,
        createdAt: message.createdAt.toISOString(),
        deliveredAt: message.deliveredAt?.toISOString() ?? null,
      })),
    });
  } catch (error) {
    return problemResponse(error);
  }
}
