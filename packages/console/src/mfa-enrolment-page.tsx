import type { ParleyClient } from '@parley/client';
import { MfaEnrolment } from './mfa-enrolment.tsx';

interface MfaEnrolmentPageProps {
  client: ParleyClient;
  /** After enrolment: the narrowed session cannot be widened, so the user signs in again (now with a code). */
  onEnrolled: () => void;
  onSignOut: () => void;
}

/** The forced enrolment: a role of the user must use MFA (`mfa_enrollment_required`), the session is `profile` only. */
export function MfaEnrolmentPage({ client, onEnrolled, onSignOut }: MfaEnrolmentPageProps) {
  return (
    <main className="narrow">
      <h1>Parley console</h1>
      <p className="notice" role="status">
        Your role requires two-factor sign-in. Set it up to continue.
      </p>
      <MfaEnrolment client={client} onDone={onEnrolled} />
      <button type="button" className="link" onClick={onSignOut}>
        Sign out
      </button>
    </main>
  );
}
