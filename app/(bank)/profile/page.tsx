import type { Metadata } from "next";
import { requireActorOrRedirect } from "@/lib/auth/session";
import { getMyProfile } from "@/lib/identity/profile";
import { changeContactDetails } from "./actions";
import { ContactDetailsForm } from "./contact-details-form";

export const metadata: Metadata = { title: "Profile" };

const dateFormat = new Intl.DateTimeFormat("en-GB", { dateStyle: "long", timeZone: "UTC" });

function formatDateOfBirth(isoDate: string | null): string {
  if (isoDate === null) return "Not on file";
  const date = new Date(`${isoDate}T00:00:00Z`);
  return Number.isNaN(date.getTime()) ? isoDate : dateFormat.format(date);
}

export default async function ProfilePage() {
  // Layouts and pages render independently, so the page checks the session itself too.
  const actor = await requireActorOrRedirect();
  if (actor.kind !== "customer") {
    return (
      <div className="card">
        <h1>Profile</h1>
        <p className="muted">Staff accounts have no customer profile.</p>
      </div>
    );
  }
  const profile = await getMyProfile(actor);
  return (
    <>
      <section className="card section" aria-labelledby="profile-heading">
        <h1 id="profile-heading">Profile</h1>
        <p className="muted">
          Your legal name, date of birth and national identifier change only through the bank; your email address
          changes on the Security page.
        </p>
        <dl className="profile-details" data-testid="profile-details">
          <dt>Legal name</dt>
          <dd>{profile.legalName}</dd>
          <dt>Date of birth</dt>
          <dd>{formatDateOfBirth(profile.dateOfBirth)}</dd>
          <dt>National identifier</dt>
          <dd data-testid="national-identifier">
            {profile.nationalIdentifierLastFour === null ? "Not on file" : `•••• ${profile.nationalIdentifierLastFour}`}
          </dd>
          <dt>Email address</dt>
          <dd>{profile.email}</dd>
          <dt>Phone number</dt>
          <dd data-testid="phone">{profile.phone ?? "Not given"}</dd>
          <dt>Postal address</dt>
          <dd data-testid="postal-address">{profile.postalAddress ?? "Not given"}</dd>
        </dl>
      </section>
      <section className="card section" aria-labelledby="contact-details-heading">
        <h2 id="contact-details-heading">Change contact details</h2>
        <p className="muted">We use these to reach you about your accounts. Leave a field empty to remove it.</p>
        <ContactDetailsForm
          contactDetailsAction={changeContactDetails}
          phone={profile.phone ?? ""}
          postalAddress={profile.postalAddress ?? ""}
        />
      </section>
    </>
  );
}
