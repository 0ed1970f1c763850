import type { ParleyClient } from '@parley/client';
import { type SyntheticEvent, useState } from 'react';
import { errorText } from './error-text.ts';
import { fieldOf } from './form-field.ts';
import { FormError } from './form-error.tsx';

interface PasswordChangeFormProps {
  client: ParleyClient;
  title: string;
  intro?: string;
  /** Called once the server accepted the new password (every other session of the user has ended). */
  onChanged: () => void;
}

/** Current password, new password twice; the server applies the tenant's password policy. */
export function PasswordChangeForm({ client, title, intro, onChanged }: PasswordChangeFormProps) {
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
      .then(() => {
        form.reset();
        onChanged();
      })
      .catch((caught: unknown) => {
        setError(errorText(caught));
      })
      .finally(() => {
        setBusy(false);
      });
  };
  return (
    <form onSubmit={submit} aria-labelledby="password-title" className="card">
      <h2 id="password-title">{title}</h2>
      {intro ? <p>{intro}</p> : null}
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
    </form>
  );
}
