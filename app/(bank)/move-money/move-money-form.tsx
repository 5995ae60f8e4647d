"use client";

import { useRouter } from "next/navigation";
import { type FormEvent, useId, useState, useTransition } from "react";
import { describedBy, FieldErrorList } from "@/app/components/field-errors";
import { isStepUpRequired, StepUpPrompt } from "@/app/components/step-up-prompt";
import type { ActionResult } from "@/lib/action";
import type { MoveMoneyReceipt } from "@/lib/ledger/move-money";
import { formatMinor, parsePositiveAmountToMinor } from "@/lib/money";
import { maximumMemoLength, type TransferRequestInput } from "@/lib/validation/transfer";

export interface AccountOption {
  id: string;
  nickname: string;
  accountNumber: string;
  currency: string;
  availableMinor: bigint;
}

export interface PayeeOption {
  id: string;
  name: string;
  accountNumber: string;
}

type MoveMoneyAction = (
  previous: ActionResult<MoveMoneyReceipt> | null,
  input: Record<string, unknown>,
) => Promise<ActionResult<MoveMoneyReceipt>>;
type ConfirmStepUpAction = (previous: ActionResult<null> | null, input: FormData) => Promise<ActionResult<null>>;

interface MoveMoneyFormProps {
  accounts: AccountOption[];
  payees: PayeeOption[];
  moveMoney: MoveMoneyAction;
  confirmStepUp: ConfirmStepUpAction;
}

type Outcome = ActionResult<MoveMoneyReceipt>;

/**
 * One idempotency key per attempt, made in the browser: every send of the same attempt (a double click, a retry
 * after a lost answer, the retry after a confirmed code) carries the same key, so the bank posts it at most once
 * and answers repeats with the original transfer. A new key is made after a success, and when the customer
 * changes the amount, the source or the destination, since that is a new attempt (and a confirmation bound to
 * the old one no longer applies). The reference may change without a new key: if the first send did go
 * through unseen, the bank then refuses the changed request instead of paying twice.
 */
function newIdempotencyKey(): string {
  return crypto.randomUUID();
}

/**
 * Clearer words for two refusals on this page: the generic "not found" does not say what to do, and an
 * idempotency conflict means an earlier send of this attempt may have gone through with other details.
 */
function messageFor(failure: Extract<Outcome, { ok: false }>): string {
  if (failure.code === "not_found") return "That account or payee is not available. Reload the page and choose again.";
  if (failure.code === "idempotency_conflict") {
    return "A payment for this attempt was already made with different details. Check your recent activity before sending again.";
  }
  return failure.message;
}

function destinationOf(value: string): TransferRequestInput["to"] | null {
  const [kind, id] = value.split(":");
  if (!id) return null;
  if (kind === "own_account") return { kind: "own_account", accountId: id };
  if (kind === "payee") return { kind: "payee", payeeId: id };
  return null;
}

export function MoveMoneyForm({ accounts, payees, moveMoney, confirmStepUp }: MoveMoneyFormProps) {
  const router = useRouter();
  const ids = { from: useId(), to: useId(), amount: useId(), memo: useId(), errors: useId() };
  const [fromAccountId, setFromAccountId] = useState(accounts[0]?.id ?? "");
  const [destination, setDestination] = useState("");
  const [amount, setAmount] = useState("");
  const [memo, setMemo] = useState("");
  const [idempotencyKey, setIdempotencyKey] = useState(newIdempotencyKey);
  // The request last sent, exactly as sent: a confirmation and its retry are for this one, not for the fields.
  const [attempt, setAttempt] = useState<TransferRequestInput | null>(null);
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const [localErrors, setLocalErrors] = useState<Record<string, string[]>>({});
  const [pending, startTransition] = useTransition();

  if (accounts.length === 0) {
    return <p className="muted">You have no active account to move money from.</p>;
  }

  const accountLabel = (account: AccountOption) => `${account.nickname} (${account.accountNumber})`;
  const describeDestination = (to: TransferRequestInput["to"]): string => {
    if (to.kind === "own_account") {
      const account = accounts.find((candidate) => candidate.id === to.accountId);
      return account ? accountLabel(account) : "your account";
    }
    const payee = payees.find((candidate) => candidate.id === to.payeeId);
    return payee ? `${payee.name} (${payee.accountNumber})` : "your payee";
  };

  const describeAmount = (input: TransferRequestInput): string => {
    const currency = accounts.find((account) => account.id === input.fromAccountId)?.currency;
    if (!currency) return input.amount;
    try {
      return formatMinor(parsePositiveAmountToMinor(input.amount, currency), currency);
    } catch {
      // The server parsed this very text before asking for a confirmation; should the browser disagree, the
      // amount is shown exactly as typed rather than not at all.
      return input.amount;
    }
  };

  // Changing what the money is, where it comes from or where it goes starts a new attempt.
  const startNewAttempt = () => {
    setIdempotencyKey(newIdempotencyKey());
    setAttempt(null);
    setOutcome(null);
    setLocalErrors({});
  };

  const send = (input: TransferRequestInput) => {
    setAttempt(input);
    startTransition(async () => {
      let answer: Outcome;
      try {
        answer = await moveMoney(null, input);
      } catch {
        // The answer was lost: the payment may or may not have been made. The key stays, so sending again is safe.
        answer = {
          ok: false,
          code: "unavailable",
          message: "We could not reach the bank. Press Send again: the same payment will not be made twice.",
        };
      }
      setOutcome(answer);
      if (answer.ok) {
        setIdempotencyKey(newIdempotencyKey());
        // The balances on this page (and the dashboard's) are server-rendered: fetch them again.
        router.refresh();
      }
    });
  };

  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    if (pending) return;
    const to = destinationOf(destination);
    if (!to) {
      setLocalErrors({ to: ["Choose where the money goes."] });
      return;
    }
    setLocalErrors({});
    send({ fromAccountId, to, amount, memo, idempotencyKey });
  };

  const failure = outcome && !outcome.ok ? outcome : null;
  const serverErrors = failure && "fieldErrors" in failure ? failure.fieldErrors : undefined;
  const messagesFor = (field: string): string[] => [...(localErrors[field] ?? []), ...(serverErrors?.[field] ?? [])];
  const fromMessages = messagesFor("fromAccountId");
  const toMessages = messagesFor("to");
  const amountMessages = messagesFor("amount");
  const memoMessages = messagesFor("memo");
  const formMessages = [...messagesFor("idempotencyKey"), ...messagesFor("form")];

  if (outcome?.ok) {
    const receipt = outcome.data;
    const money = (amountMinor: bigint) => formatMinor(amountMinor, receipt.currency);
    const held = receipt.status === "held";
    return (
      <div className={held ? "notice" : "success"} role="status" data-testid="move-money-receipt" data-status={receipt.status}>
        <h2>{held ? "Payment held for review" : receipt.status === "posted" ? "Money moved" : "Payment not sent"}</h2>
        <p>
          {money(receipt.amountMinor)} from {receipt.fromNickname} ({receipt.fromAccountNumber}) to {receipt.toLabel}.
        </p>
        {held ? (
          <p>
            Held for review: the money leaves your available balance now, and our staff check the payment before it is
            sent. If they stop it, the money comes back to your available balance.
          </p>
        ) : null}
        {receipt.status === "rejected" ? <p>This payment was stopped after review; the money stayed with you.</p> : null}
        <p data-testid="receipt-available">
          Available in {receipt.fromNickname} now: {money(receipt.fromAvailableMinor)}
        </p>
        <button
          className="button"
          type="button"
          onClick={() => {
            setAmount("");
            setMemo("");
            startNewAttempt();
          }}
        >
          Make another payment
        </button>
      </div>
    );
  }

  const confirming = isStepUpRequired(failure) && attempt !== null ? attempt : null;
  return (
    <>
      <form onSubmit={submit} noValidate aria-describedby={formMessages.length > 0 ? ids.errors : undefined}>
        <div className="field">
          <label htmlFor={ids.from}>From</label>
          <select
            id={ids.from}
            name="fromAccountId"
            value={fromAccountId}
            onChange={(event) => {
              setFromAccountId(event.target.value);
              if (destination === `own_account:${event.target.value}`) setDestination("");
              startNewAttempt();
            }}
            aria-invalid={fromMessages.length > 0}
            aria-describedby={describedBy([], `${ids.from}-errors`, fromMessages)}
          >
            {accounts.map((account) => (
              <option key={account.id} value={account.id}>
                {accountLabel(account)} · {formatMinor(account.availableMinor, account.currency)} available
              </option>
            ))}
          </select>
          <FieldErrorList id={`${ids.from}-errors`} messages={fromMessages} />
        </div>
        <div className="field">
          <label htmlFor={ids.to}>To</label>
          <select
            id={ids.to}
            name="to"
            value={destination}
            onChange={(event) => {
              setDestination(event.target.value);
              startNewAttempt();
            }}
            aria-invalid={toMessages.length > 0}
            aria-describedby={describedBy([], `${ids.to}-errors`, toMessages)}
          >
            <option value="">Choose…</option>
            <optgroup label="Your accounts">
              {accounts
                .filter((account) => account.id !== fromAccountId)
                .map((account) => (
                  <option key={account.id} value={`own_account:${account.id}`}>
                    {accountLabel(account)}
                  </option>
                ))}
            </optgroup>
            {payees.length > 0 ? (
              <optgroup label="Your payees">
                {payees.map((payee) => (
                  <option key={payee.id} value={`payee:${payee.id}`}>
                    {payee.name} ({payee.accountNumber})
                  </option>
                ))}
              </optgroup>
            ) : null}
          </select>
          <FieldErrorList id={`${ids.to}-errors`} messages={toMessages} />
        </div>
        <div className="field">
          <label htmlFor={ids.amount}>Amount</label>
          <input
            id={ids.amount}
            name="amount"
            inputMode="decimal"
            autoComplete="off"
            value={amount}
            onChange={(event) => {
              setAmount(event.target.value);
              startNewAttempt();
            }}
            aria-invalid={amountMessages.length > 0}
            aria-describedby={describedBy([`${ids.amount}-hint`], `${ids.amount}-errors`, amountMessages)}
          />
          <p className="hint" id={`${ids.amount}-hint`}>
            For example 25.00 or 1,250.50
          </p>
          <FieldErrorList id={`${ids.amount}-errors`} messages={amountMessages} />
        </div>
        <div className="field">
          <label htmlFor={ids.memo}>Reference (optional)</label>
          <input
            id={ids.memo}
            name="memo"
            autoComplete="off"
            maxLength={maximumMemoLength}
            value={memo}
            onChange={(event) => setMemo(event.target.value)}
            aria-invalid={memoMessages.length > 0}
            aria-describedby={describedBy([], `${ids.memo}-errors`, memoMessages)}
          />
          <FieldErrorList id={`${ids.memo}-errors`} messages={memoMessages} />
        </div>
        <FieldErrorList id={ids.errors} messages={formMessages} />
        {failure && !isStepUpRequired(failure) ? (
          <p className="alert" role="alert" data-testid="move-money-error">
            {messageFor(failure)}
          </p>
        ) : null}
        <button className="button" type="submit" disabled={pending}>
          {pending ? "Sending…" : "Send"}
        </button>
      </form>
      {confirming ? (
        <div className="card section" data-testid="transfer-confirmation">
          <h2>Confirm this payment</h2>
          <p>
            You are confirming {describeAmount(confirming)} from {describeDestination({ kind: "own_account", accountId: confirming.fromAccountId })} to{" "}
            {describeDestination(confirming.to)}. The code confirms this exact payment: changing the amount or the
            accounts needs a new code.
          </p>
          <StepUpPrompt
            result={failure}
            operation="transfer"
            operationInput={confirming}
            confirmStepUp={confirmStepUp}
            onConfirmed={() => send(confirming)}
            purpose="this payment"
          />
        </div>
      ) : null}
    </>
  );
}
