import type { ParleyClient } from '@parley/client';
import type { Permission } from '@parley/protocol';
import { type SyntheticEvent, useState } from 'react';
import { errorText } from './error-text.ts';
import { fieldOf } from './form-field.ts';
import { FormError } from './form-error.tsx';
import { InviteUser } from './invite-user.tsx';
import { BUILT_IN_ROLES } from './permission-names.ts';
import { UserRow, type UserSummary } from './user-row.tsx';

interface UsersPageProps {
  client: ParleyClient;
  permissions: ReadonlySet<Permission>;
}

/**
 * Users: look one up by exact e-mail (the server keeps e-mail addresses encrypted and offers no listing), create
 * one, and act on those shown. Each control appears only when the role allows it; the server still decides.
 */
export function UsersPage({ client, permissions }: UsersPageProps) {
  const [users, setUsers] = useState<UserSummary[]>([]);
  const show = (user: UserSummary) => {
    setUsers((current) => [user, ...current.filter((entry) => entry.id !== user.id)]);
  };
  const update = (id: string, change: Partial<UserSummary>) => {
    setUsers((current) => current.map((entry) => (entry.id === id ? { ...entry, ...change } : entry)));
  };
  return (
    <main>
      <h1>Users</h1>
      <div className="columns">
        {permissions.has('users.read') ? <FindUser client={client} onFound={show} /> : null}
        {permissions.has('users.manage') ? <CreateUser client={client} onCreated={show} /> : null}
        {permissions.has('users.manage') ? <InviteUser client={client} /> : null}
      </div>
      <section aria-labelledby="shown-title">
        <h2 id="shown-title">Shown users</h2>
        {users.length === 0 ? (
          <p>Find a user by e-mail or create one.</p>
        ) : (
          <table className="users">
            <caption className="sr-only">Users found or created in this session</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">E-mail</th>
                <th scope="col">Status</th>
                <th scope="col">Roles</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {users.map((user) => (
                <UserRow
                  key={user.id}
                  client={client}
                  user={user}
                  permissions={permissions}
                  onChange={(change) => {
                    update(user.id, change);
                  }}
                />
              ))}
            </tbody>
          </table>
        )}
      </section>
    </main>
  );
}

function FindUser({ client, onFound }: { client: ParleyClient; onFound: (user: UserSummary) => void }) {
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

function CreateUser({ client, onCreated }: { client: ParleyClient; onCreated: (user: UserSummary) => void }) {
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
