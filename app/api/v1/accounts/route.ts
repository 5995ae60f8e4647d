import { listMyAccounts } from "@/lib/accounts/list-my-accounts";
import { requireCustomer } from "@/lib/auth/session";
import { jsonResponse, problemResponse } from "@/lib/http/problem";
import { minorToDecimalString } from "@/lib/money";

export const dynamic = "force-dynamic";

/** The signed-in customer's accounts. Amounts are strings of minor units (JSON numbers lose bigint precision). */
export async function GET(): Promise<Response> {
  try {
    const actor = await requireCustomer();
    const accounts = await listMyAccounts(actor);
    return jsonResponse({
      accounts: accounts.map((account) => ({
        id: account.id,
        accountNumber: account.accountNumber,
        kind: account.kind,
        nickname: account.nickname,
        currency: account.currency,
        status: account.status,
        balanceMinor: account.balanceMinor.toString(),
        availableMinor: account.availableMinor.toString(),
        balance: minorToDecimalString(account.balanceMinor, account.currency),
        available: minorToDecimalString(account.availableMinor, account.currency),
      })),
    });
  } catch (error) {
    return problemResponse(error);
  }
}
