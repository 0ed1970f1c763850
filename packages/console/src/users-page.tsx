import type { ParleyClient } from '@parley/client';
import type { Permission } from '@parley/protocol';
import { type SyntheticEvent, useEffect, useState } from 'react';
import { CreateUser } from './create-user.tsx';
import { FindUser } from './find-user.tsx';
import { fieldOf } from './form-field.ts';
import { FormError } from './form-error.tsx';
import { InviteUser } from './invite-user.tsx';
import { BUILT_IN_ROLES, spoken } from './permission-names.ts';
import { UserRow } from './user-row.tsx';
import { type UserFilter, USER_STATUSES, useUserListing } from './user-listing.ts';

interface UsersPageProps {
  client: ParleyClient;
  permissions: ReadonlySet<Permission>;
}

/**
 * Users: the tenant's users listed on open (oldest first, a page at a time, by status or role), one found by
 * exact e-mail, one created or invited, and the actions on each. Each control appears only when the role allows
 * it; the server still decides.
 */
export function UsersPage({ client, permissions }: UsersPageProps) {
  const canFind = permissions.has('users.read');
  // The whole directory (names and addresses) is for roles holding users.list; members only find by address.
  const canRead = permissions.has('users.list');
  const listing = useUserListing(client, canRead);
  const roles = useRoleNames(client, permissions.has('roles.manage'));
  const { users } = listing;
  return (
    <main>
      <h1>Users</h1>
      <div className="columns">
        {canFind ? <FindUser client={client} onFound={listing.pin} /> : null}
        {permissions.has('users.manage') ? <CreateUser client={client} onCreated={listing.pin} /> : null}
        {permissions.has('users.manage') ? <InviteUser client={client} /> : null}
      </div>
      <section aria-labelledby="users-title">
        <h2 id="users-title">{canRead ? 'All users' : 'Users found or created here'}</h2>
        {canRead ? (
          <UserFilters
            roles={roles}
            filter={listing.filter}
            busy={listing.busy}
            onFilter={listing.filterBy}
          />
        ) : null}
        <FormError text={listing.error} />
        <p role="status" className="muted">
          {listing.loaded || !canRead
            ? shownText(users.length, listing.nextCursor !== undefined)
            : 'Loading…'}
        </p>
        {users.length === 0 ? null : (
          <table className="users">
            <caption className="sr-only">
              Users of the tenant, oldest first; those found or created here at the top
            </caption>
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
                    listing.update(user.id, change);
                  }}
                />
              ))}
            </tbody>
          </table>
        )}
        {listing.nextCursor === undefined ? null : (
          <button type="button" disabled={listing.busy} onClick={listing.loadMore}>
            {listing.busy ? 'Loading…' : 'Load more users'}
          </button>
        )}
      </section>
    </main>
  );
}

function shownText(count: number, more: boolean): string {
  if (count === 0) return 'No user matches.';
  const users = count === 1 ? '1 user' : `${count} users`;
  return more ? `Showing ${users}; more to load.` : `Showing ${users}, all of them.`;
}

/** Built-in roles, then the tenant's custom ones when the signed-in role may read them (`roles.manage`). */
function useRoleNames(client: ParleyClient, canReadCustom: boolean): string[] {
  const [custom, setCustom] = useState<string[]>([]);
  useEffect(() => {
    if (!canReadCustom) return;
    let current = true;
    client
      .request<{ roles: { name: string }[] }>('GET', '/v1/roles')
      .then(({ roles }) => {
        if (current) setCustom(roles.map((role) => role.name));
      })
      // The filter still offers the built-in roles.
      .catch(() => undefined);
    return () => {
      current = false;
    };
  }, [client, canReadCustom]);
  return [...BUILT_IN_ROLES, ...custom];
}

interface UserFiltersProps {
  roles: string[];
  filter: UserFilter;
  busy: boolean;
  onFilter: (filter: UserFilter) => void;
}

function UserFilters({ roles, filter, busy, onFilter }: UserFiltersProps) {
  const submit = (event: SyntheticEvent<HTMLFormElement>) => {
    event.preventDefault();
    const status = fieldOf(event.currentTarget, 'status');
    onFilter({
      status: USER_STATUSES.find((known) => known === status),
      role: fieldOf(event.currentTarget, 'role') || undefined,
    });
  };
  return (
    <form onSubmit={submit} className="inline" aria-label="Filter users">
      <label>
        Status
        <select name="status" defaultValue={filter.status ?? ''}>
          <option value="">any status</option>
          {USER_STATUSES.map((status) => (
            <option key={status} value={status}>
              {status}
            </option>
          ))}
        </select>
      </label>
      <label>
        Role
        <select name="role" defaultValue={filter.role ?? ''}>
          <option value="">any role</option>
          {roles.map((role) => (
            <option key={role} value={role}>
              {spoken(role)}
            </option>
          ))}
        </select>
      </label>
      <button type="submit" disabled={busy}>
        Show users
      </button>
    </form>
  );
}
