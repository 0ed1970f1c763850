import type { ParleyClient } from '@parley/client';
import { type SyntheticEvent, useState } from 'react';
import { errorText } from './error-text.ts';
import { fieldOf } from './form-field.ts';
import { FormError } from './form-error.tsx';
import { BUILT_IN_ROLES } from './permission-names.ts';
import type { UserSummary } from './user-row.tsx';

/** Creates a user with an initial password and one role; the new user is handed to `onCreated` to show. */
export function CreateUser({
  client,
  onCreated,
}: {
  client: ParleyClient;
  onCreated: (user: UserSummary) => void;
}) {
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const submit = (event: SyntheticEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = event.currentTarget;
    const body = {
      displayName: fieldOf(form, 'displayName').trim(),
      email: fieldOf(form, 'email').trim(),
      password: fieldOf(form, 'password'),
      roles: [fieldOf(form, 'role')],
    };
    setBusy(true);
    setError(undefined);
    client
      .request<{ userId: string }>('POST', '/v1/users', body)
      .then(({ userId }) => {
        onCreated({
          id: userId,
          displayName: body.displayName,
          email: body.email,
          status: 'active',
          roles: body.roles,
        });
        form.reset();
      })
      .catch((caught: unknown) => {
        setError(errorText(caught));
      })
      .finally(() => {
        setBusy(false);
      });
  };
  return (
    <form onSubmit={submit} className="card" aria-labelledby="create-title">
      <h2 id="create-title">Create a user</h2>
      <label>
        Display name
        <input name="displayName" required maxLength={200} />
      </label>
      <label>
        E-mail address
        <input name="email" type="email" required maxLength={320} autoComplete="off" />
      </label>
      <label>
        Initial password
        <input name="password" type="password" required autoComplete="new-password" />
      </label>
      <label>
        Role
        <select name="role" defaultValue="member">
          {BUILT_IN_ROLES.map((role) => (
            <option key={role} value={role}>
              {role.replaceAll('_', ' ')}
            </option>
          ))}
        </select>
      </label>
      <FormError text={error} />
      <button type="submit" disabled={busy}>
        {busy ? 'Creating…' : 'Create user'}
      </button>
    </form>
  );
}
