import type { ParleyClient } from '@parley/client';
import { type SyntheticEvent, useState } from 'react';
import { errorText } from './error-text.ts';
import { fieldOf } from './form-field.ts';
import { FormError } from './form-error.tsx';

interface PasswordChangePageProps {
  client: ParleyClient;
  /** After the change: the narrowed session cannot be widened, so the user signs in again. */
  onChanged: () => void;
  onSignOut: () => void;
}

/** The forced change: the server answered `password_change_required` and the session carries `profile` only. */
export function PasswordChangePage({ client, onChanged, onSignOut }: PasswordChangePageProps) {
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const submit = (event: SyntheticEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = event.currentTarget;
    const next = fieldOf(form, 'newPassword');
    if (next !== fieldOf(form, 'confirmPassword')) {
      setError('The two new passwords differ.');
      return;
    }
    setBusy(true);
    setError(undefined);
    client.account
      .changePassword(fieldOf(form, 'currentPassword'), next)
      .then(onChanged)
      .catch((caught: unknown) => {
        setError(errorText(caught));
        setBusy(false);
      });
  };
  return (
    <main className="narrow">
      <h1>Parley console</h1>
      <form onSubmit={submit} aria-labelledby="password-title" className="card">
        <h2 id="password-title">Choose a new password</h2>
        <p>Your password must be changed before you can continue.</p>
        <label>
          Current password
          <input name="currentPassword" type="password" required autoComplete="current-password" />
        </label>
        <label>
          New password
          <input name="newPassword" type="password" required autoComplete="new-password" />
        </label>
        <label>
          New password again
          <input name="confirmPassword" type="password" required autoComplete="new-password" />
        </label>
        <FormError text={error} />
        <button type="submit" disabled={busy}>
          {busy ? 'Saving…' : 'Change password'}
        </button>
        <button type="button" className="link" onClick={onSignOut}>
          Sign out
        </button>
      </form>
    </main>
  );
}
