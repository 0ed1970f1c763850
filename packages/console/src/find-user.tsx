import type { ParleyClient } from '@parley/client';
import { type SyntheticEvent, useState } from 'react';
import { errorText } from './error-text.ts';
import { fieldOf } from './form-field.ts';
import { FormError } from './form-error.tsx';
import type { UserSummary } from './user-row.tsx';

/** Looks one user up by exact e-mail address (the server matches it through a blind index, never partly). */
export function FindUser({
  client,
  onFound,
}: {
  client: ParleyClient;
  onFound: (user: UserSummary) => void;
}) {
  const [message, setMessage] = useState<string>();
  const submit = (event: SyntheticEvent<HTMLFormElement>) => {
    event.preventDefault();
    const email = fieldOf(event.currentTarget, 'email').trim();
    setMessage(undefined);
    client
      .request<{ users: UserSummary[] }>('GET', `/v1/users?email=${encodeURIComponent(email)}`)
      .then(({ users }) => {
        const [found] = users;
        if (found) onFound(found);
        else setMessage('No user has this e-mail address.');
      })
      .catch((caught: unknown) => {
        setMessage(errorText(caught));
      });
  };
  return (
    <form onSubmit={submit} className="card" aria-labelledby="find-title">
      <h2 id="find-title">Find a user</h2>
      <label>
        E-mail address
        <input name="email" type="email" required />
      </label>
      <FormError text={message} />
      <button type="submit">Find</button>
    </form>
  );
}
