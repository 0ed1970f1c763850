import type { ParleyClient } from '@parley/client';
import { PasswordChangeForm } from './password-change-form.tsx';

interface PasswordChangePageProps {
  client: ParleyClient;
  /** After the change: the narrowed session cannot be widened, so the user signs in again. */
  onChanged: () => void;
  onSignOut: () => void;
}

/** The forced change: the server answered `password_change_required` and the session carries `profile` only. */
export function PasswordChangePage({ client, onChanged, onSignOut }: PasswordChangePageProps) {
  return (
    <main className="narrow">
      <h1>Parley console</h1>
      <PasswordChangeForm
        client={client}
        title="Choose a new password"
        intro="Your password must be changed before you can continue."
        onChanged={onChanged}
      />
      <button type="button" className="link" onClick={onSignOut}>
        Sign out
      </button>
    </main>
  );
}
