import type { ParleyClient } from '@parley/client';
import { type SyntheticEvent, useState } from 'react';
import { errorText } from './error-text.ts';
import { fieldOf } from './form-field.ts';
import { FormError } from './form-error.tsx';
import { BUILT_IN_ROLES, spoken } from './permission-names.ts';

/**
 * Invite one e-mail address (`POST /v1/invites`, for tenants whose sign-up mode is invite-only). The invitation
 * token is answered once: the admin passes it on; it is shown until the next invitation.
 */
export function InviteUser({ client }: { client: ParleyClient }) {
  const [error, setError] = useState<string>();
  const [invite, setInvite] = useState<{ email: string; inviteToken: string; expiresAt: string }>();
  const submit = (event: SyntheticEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = event.currentTarget;
    const email = fieldOf(form, 'email').trim();
    setError(undefined);
    setInvite(undefined);
    client
      .request<{ inviteToken: string; expiresAt: string }>('POST', '/v1/invites', {
        email,
        roles: [fieldOf(form, 'role')],
      })
      .then((answer) => {
        setInvite({ email, ...answer });
        form.reset();
      })
      .catch((caught: unknown) => {
        setError(errorText(caught));
      });
  };
  return (
    <form onSubmit={submit} className="card" aria-labelledby="invite-title">
      <h2 id="invite-title">Invite a user</h2>
      <label>
        E-mail address
        <input name="email" type="email" required maxLength={320} autoComplete="off" />
      </label>
      <label>
        Role
        <select name="role" defaultValue="member">
          {BUILT_IN_ROLES.map((role) => (
            <option key={role} value={role}>
              {spoken(role)}
            </option>
          ))}
        </select>
      </label>
      <FormError text={error} />
      {invite ? (
        <div role="status" className="secret-once">
          <p>
            Invitation for {invite.email}, valid until {new Date(invite.expiresAt).toLocaleString()}. Pass on
            this token (shown only now):
          </p>
          <code>{invite.inviteToken}</code>
        </div>
      ) : null}
      <button type="submit">Invite</button>
    </form>
  );
}
