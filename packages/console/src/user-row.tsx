import type { ParleyClient } from '@parley/client';
import type { Permission } from '@parley/protocol';
import { type SyntheticEvent, useMemo, useState } from 'react';
import { DataExportSection } from './data-export-section.tsx';
import { errorText } from './error-text.ts';
import { userExportEndpoints } from './export-endpoints.ts';
import { fieldOf } from './form-field.ts';
import { UserSessions } from './user-sessions.tsx';

/** A user as `GET /v1/users` answers it (a user just created here has no `createdAt` yet). */
export interface UserSummary {
  id: string;
  displayName: string | null;
  email: string | null;
  status: string;
  roles?: string[];
  createdAt?: string;
}

type Pending = 'deactivate' | 'reset-mfa' | 'roles' | undefined;

interface UserRowProps {
  client: ParleyClient;
  user: UserSummary;
  permissions: ReadonlySet<Permission>;
  onChange: (change: Partial<UserSummary>) => void;
}

/** One user and the actions the signed-in role may take on them; destructive ones ask for a confirmation. */
export function UserRow({ client, user, permissions, onChange }: UserRowProps) {
  const [pending, setPending] = useState<Pending>();
  const [message, setMessage] = useState<string>();
  const [showSessions, setShowSessions] = useState(false);
  const [showExport, setShowExport] = useState(false);
  const exportEndpoints = useMemo(() => userExportEndpoints(client, user.id), [client, user.id]);
  const name = user.displayName ?? '(no name)';
  const run = (work: Promise<unknown>, done: string, change: Partial<UserSummary> = {}) => {
    setMessage(undefined);
    work
      .then(() => {
        onChange(change);
        setPending(undefined);
        setMessage(done);
      })
      .catch((caught: unknown) => {
        setMessage(errorText(caught));
      });
  };
  const path = `/v1/users/${encodeURIComponent(user.id)}`;
  const setStatus = (status: 'active' | 'deactivated') => {
    run(client.request('PATCH', path, { status }), status === 'active' ? 'Reactivated.' : 'Deactivated.', {
      status,
    });
  };
  const saveRoles = (event: SyntheticEvent<HTMLFormElement>) => {
    event.preventDefault();
    const roles = fieldOf(event.currentTarget, 'roles')
      .split(',')
      .map((role) => role.trim())
      .filter(Boolean);
    run(client.request('PUT', `${path}/roles`, { roles }), 'Roles saved.', { roles });
  };
  const canManage = permissions.has('users.manage');
  return (
    <>
      <tr>
        <td data-label="Name">{name}</td>
        <td data-label="E-mail">{user.email ?? '—'}</td>
        <td data-label="Status">{user.status}</td>
        <td data-label="Roles">{user.roles?.join(', ') ?? '—'}</td>
        <td data-label="Actions">
          <div className="actions">
            {pending === 'deactivate' || pending === 'reset-mfa' ? (
              <span role="group" aria-label={`Confirm for ${name}`}>
                <button
                  type="button"
                  className="danger"
                  autoFocus
                  onClick={() => {
                    if (pending === 'deactivate') setStatus('deactivated');
                    else
                      run(client.request('DELETE', `${path}/mfa`), 'MFA reset: they enrol again at sign-in.');
                  }}
                >
                  {pending === 'deactivate' ? `Confirm: deactivate ${name}` : `Confirm: reset MFA of ${name}`}
                </button>
                <button
                  type="button"
                  onClick={() => {
                    setPending(undefined);
                  }}
                >
                  Cancel
                </button>
              </span>
            ) : pending === 'roles' ? (
              <form onSubmit={saveRoles} className="inline">
                <label>
                  Roles of {name} (comma-separated)
                  <input name="roles" defaultValue={user.roles?.join(', ') ?? ''} autoFocus />
                </label>
                <button type="submit">Save roles</button>
                <button
                  type="button"
                  onClick={() => {
                    setPending(undefined);
                  }}
                >
                  Cancel
                </button>
              </form>
            ) : (
              <>
                {canManage && user.status === 'active' ? (
                  <button
                    type="button"
                    aria-label={`Deactivate ${name}`}
                    onClick={() => {
                      setPending('deactivate');
                    }}
                  >
                    Deactivate
                  </button>
                ) : null}
                {canManage && user.status === 'deactivated' ? (
                  <button
                    type="button"
                    aria-label={`Reactivate ${name}`}
                    onClick={() => {
                      setStatus('active');
                    }}
                  >
                    Reactivate
                  </button>
                ) : null}
                {permissions.has('roles.manage') ? (
                  <button
                    type="button"
                    aria-label={`Change roles of ${name}`}
                    onClick={() => {
                      setPending('roles');
                    }}
                  >
                    Roles
                  </button>
                ) : null}
                {canManage ? (
                  <button
                    type="button"
                    aria-label={`${showSessions ? 'Hide' : 'Show'} sessions of ${name}`}
                    aria-expanded={showSessions}
                    onClick={() => {
                      setShowSessions(!showSessions);
                    }}
                  >
                    Sessions
                  </button>
                ) : null}
                {permissions.has('privacy.export') ? (
                  <button
                    type="button"
                    aria-label={`Export data of ${name}`}
                    aria-expanded={showExport}
                    onClick={() => {
                      setShowExport(!showExport);
                    }}
                  >
                    Export data
                  </button>
                ) : null}
                {permissions.has('mfa.reset') ? (
                  <button
                    type="button"
                    aria-label={`Reset MFA of ${name}`}
                    onClick={() => {
                      setPending('reset-mfa');
                    }}
                  >
                    Reset MFA
                  </button>
                ) : null}
              </>
            )}
            <p className="row-message" role="status">
              {message ?? ''}
            </p>
          </div>
        </td>
      </tr>
      {showSessions ? (
        <tr className="sub-row">
          <td colSpan={5}>
            <UserSessions client={client} userId={user.id} name={name} />
          </td>
        </tr>
      ) : null}
      {showExport ? (
        <tr className="sub-row">
          <td colSpan={5}>
            <DataExportSection client={client} endpoints={exportEndpoints} subject={{ name }} />
          </td>
        </tr>
      ) : null}
    </>
  );
}
