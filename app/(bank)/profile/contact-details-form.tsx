"use client";

import { useActionState, useState } from "react";
import type { ActionResult } from "@/lib/action";

type ContactDetailsAction = (previous: ActionResult<null> | null, input: FormData) => Promise<ActionResult<null>>;

export function ContactDetailsForm({
  contactDetailsAction,
  phone: initialPhone,
  postalAddress: initialPostalAddress,
}: {
  contactDetailsAction: ContactDetailsAction;
  phone: string;
  postalAddress: string;
}) {
  const [result, formAction, pending] = useActionState(contactDetailsAction, null);
  // Controlled, so that a refused change does not make the customer type everything again.
  const [phone, setPhone] = useState(initialPhone);
  const [postalAddress, setPostalAddress] = useState(initialPostalAddress);
  const fieldErrors = result && !result.ok ? result.fieldErrors : undefined;
  return (
    <form action={formAction} noValidate>
      {result?.ok ? <p role="status">Your contact details are saved.</p> : null}
      {result && !result.ok && !fieldErrors ? (
        <p className="alert" role="alert">
          {result.message}
        </p>
      ) : null}
      <div className="field">
        <label htmlFor="phone">Phone number</label>
        <input
          id="phone"
          name="phone"
          type="tel"
          autoComplete="tel"
          maxLength={64}
          value={phone}
          onChange={(event) => setPhone(event.target.value)}
          aria-describedby={fieldErrors?.phone ? "phone-error" : undefined}
        />
        {fieldErrors?.phone ? (
          <span className="field-error" id="phone-error">
            {fieldErrors.phone[0]}
          </span>
        ) : null}
      </div>
      <div className="field">
        <label htmlFor="postal-address">Postal address</label>
        <textarea
          id="postal-address"
          name="postalAddress"
          autoComplete="street-address"
          rows={4}
          maxLength={800}
          value={postalAddress}
          onChange={(event) => setPostalAddress(event.target.value)}
          aria-describedby={fieldErrors?.postalAddress ? "postal-address-error" : undefined}
        />
        {fieldErrors?.postalAddress ? (
          <span className="field-error" id="postal-address-error">
            {fieldErrors.postalAddress[0]}
          </span>
        ) : null}
      </div>
      <div className="field">
        <label htmlFor="contact-details-current-password">Current password</label>
        <input
          id="contact-details-current-password"
          name="currentPassword"
          type="password"
          autoComplete="current-password"
          required
          maxLength={1024}
          aria-describedby={fieldErrors?.currentPassword ? "contact-details-current-password-error" : undefined}
        />
        {fieldErrors?.currentPassword ? (
          <span className="field-error" id="contact-details-current-password-error">
            {fieldErrors.currentPassword[0]}
          </span>
        ) : null}
      </div>
      <button type="submit" disabled={pending}>
        {pending ? "Saving…" : "Save contact details"}
      </button>
    </form>
  );
}
