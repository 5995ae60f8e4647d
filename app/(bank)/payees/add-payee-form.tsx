"use client";

import { zodResolver } from "@hookform/resolvers/zod";
import { startTransition, useActionState, useState } from "react";
import { useForm, useWatch } from "react-hook-form";
import { describedBy, FieldErrorList, fieldMessages } from "@/app/components/field-errors";
import { isStepUpRequired, StepUpPrompt } from "@/app/components/step-up-prompt";
import type { ActionResult } from "@/lib/action";
import { maximumPayeeNameLength, type PayeeDetails, type PayeeDetailsInput, payeeDetailsSchema } from "@/lib/validation/payee";

type FormAction<T> = (previous: ActionResult<T> | null, input: FormData) => Promise<ActionResult<T>>;

type LookupResult =
  | { result: "exact_match" }
  | { result: "close_match"; accountHolderName: string }
  | { result: "no_match" };

interface AddPayeeFormProps {
  checkPayee: FormAction<LookupResult>;
  addPayee: FormAction<{ id: string; name: string; accountNumber: string; matchResult: LookupResult["result"] }>;
  confirmStepUp: FormAction<null>;
}

function toFormData(details: Readonly<Record<string, string>>): FormData {
  const formData = new FormData();
  for (const [key, value] of Object.entries(details)) formData.set(key, value);
  return formData;
}

/**
 * Adding a payee in two steps: "Check" runs confirmation of payee on the typed account number and name and
 * shows the answer; "Save payee" then saves exactly the checked details, after a code from the authenticator
 * bound to them (the server computes the match again and never trusts this page's). Changing either field
 * after the check asks for a new check.
 */
export function AddPayeeForm({ checkPayee, addPayee, confirmStepUp }: AddPayeeFormProps) {
  const [checkResult, checkAction, checking] = useActionState(checkPayee, null);
  const [saveResult, saveAction, saving] = useActionState(addPayee, null);
  const [checkedDetails, setCheckedDetails] = useState<PayeeDetails | null>(null);
  const {
    register,
    handleSubmit,
    control,
    setValue,
    reset,
    formState: { errors },
  } = useForm<PayeeDetailsInput, unknown, PayeeDetails>({
    resolver: zodResolver(payeeDetailsSchema),
    defaultValues: { accountNumber: "", name: "" },
  });
  const accountNumber = useWatch({ control, name: "accountNumber" });
  const name = useWatch({ control, name: "name" });
  // The shown result belongs to the checked details only; editing the form makes it stale.
  const stillChecked =
    checkedDetails !== null &&
    accountNumber.replace(/[\s-]/g, "") === checkedDetails.accountNumber &&
    name.trim() === checkedDetails.name;
  const lookup = stillChecked && checkResult?.ok ? checkResult.data : null;

  const serverErrors = checkResult && !checkResult.ok ? checkResult.fieldErrors : undefined;
  const saveErrors = saveResult && !saveResult.ok ? saveResult.fieldErrors : undefined;
  const messages = {
    accountNumber: fieldMessages(errors.accountNumber, [...(serverErrors?.accountNumber ?? []), ...(saveErrors?.accountNumber ?? [])]),
    name: fieldMessages(errors.name, [...(serverErrors?.name ?? []), ...(saveErrors?.name ?? [])]),
  };

  const check = (details: PayeeDetails) => {
    setCheckedDetails(details);
    startTransition(() => checkAction(toFormData(details)));
  };

  const chooseAccountHolderName = (holderName: string) => {
    if (!checkedDetails) return;
    // The suggested name is the account holder's own, so it is an exact match without another lookup.
    setValue("name", holderName);
    setCheckedDetails({ ...checkedDetails, name: holderName });
  };

  const operationInput = checkedDetails ? { accountNumber: checkedDetails.accountNumber, name: checkedDetails.name } : undefined;
  const save = () => {
    if (!operationInput) return;
    startTransition(() => saveAction(toFormData(operationInput)));
  };

  const saved = saveResult?.ok ? saveResult.data : null;
  const usingSuggestedName = lookup?.result === "close_match" && checkedDetails?.name === lookup.accountHolderName;

  return (
    <div>
      <div role="status" className="status-region">
        {saved ? (
          <p className="notice" data-testid="payee-saved">
            {saved.name} is saved as a payee.
          </p>
        ) : null}
      </div>
      <form
        onSubmit={handleSubmit(check)}
        noValidate
        onReset={() => {
          reset();
          setCheckedDetails(null);
        }}
      >
        <div className="field">
          <label htmlFor="payee-account-number">Account number</label>
          <input
            id="payee-account-number"
            inputMode="numeric"
            autoComplete="off"
            maxLength={20}
            aria-invalid={messages.accountNumber.length > 0}
            aria-describedby={describedBy([], "payee-account-number-errors", messages.accountNumber)}
            {...register("accountNumber")}
          />
          <FieldErrorList id="payee-account-number-errors" messages={messages.accountNumber} />
        </div>
        <div className="field">
          <label htmlFor="payee-name">Name on the account</label>
          <input
            id="payee-name"
            autoComplete="off"
            maxLength={maximumPayeeNameLength}
            aria-invalid={messages.name.length > 0}
            aria-describedby={describedBy([], "payee-name-errors", messages.name)}
            {...register("name")}
          />
          <FieldErrorList id="payee-name-errors" messages={messages.name} />
        </div>
        <button className="button" type="submit" disabled={checking}>
          {checking ? "Checking…" : "Check"}
        </button>
      </form>
      {checkResult && !checkResult.ok && !checkResult.fieldErrors ? (
        <p className="alert" role="alert">
          {checkResult.message}
        </p>
      ) : null}
      {lookup ? (
        <div className="card" data-testid="payee-check-result" data-result={usingSuggestedName ? "exact_match" : lookup.result}>
          {lookup.result === "exact_match" || usingSuggestedName ? (
            <p className="notice">Name matches the account.</p>
          ) : lookup.result === "close_match" ? (
            <>
              <p className="alert">The name on the account is {lookup.accountHolderName}. Use this name?</p>
              <button className="button secondary" type="button" onClick={() => chooseAccountHolderName(lookup.accountHolderName)}>
                Use {lookup.accountHolderName}
              </button>
            </>
          ) : (
            <p className="alert" role="alert">
              The name does not match this account. If you continue, the money you send may go to the wrong person and
              you may not get it back. Check the details with the person you are paying.
            </p>
          )}
          <button className="button" type="button" onClick={save} disabled={saving}>
            {saving ? "Saving…" : lookup.result === "no_match" ? "Continue and save payee" : "Save payee"}
          </button>
          <StepUpPrompt
            result={saveResult}
            operation="save_payee"
            operationInput={operationInput}
            confirmStepUp={confirmStepUp}
            onConfirmed={save}
            purpose="this new payee"
          />
          {saveResult && !saveResult.ok && !saveResult.fieldErrors && !isStepUpRequired(saveResult) ? (
            <p className="alert" role="alert">
              {saveResult.message}
            </p>
          ) : null}
        </div>
      ) : null}
    </div>
  );
}
