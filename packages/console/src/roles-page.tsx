import { type SyntheticEvent, useCallback, useEffect, useState } from 'react';
import type { PageProps } from './console-page.ts';
import { ConfirmButton } from './confirm-button.tsx';
import { errorText } from './error-text.ts';
import { fieldOf } from './form-field.ts';
import { FormError } from './form-error.tsx';
import { PERMISSIONS, spoken } from './permission-names.ts';

/** A custom role as `GET /v1/roles` lists it. */
interface CustomRole {
  name: string;
  permissions: string[];
}

const ROLE_NAME = '[a-z][a-z0-9_]{1,63}';

/**
 * Custom roles: named sets of permissions, defined and redefined with `PUT /v1/roles/{name}`. A role may grant
 * only permissions the signed-in user holds (the server refuses others), so the others are shown disabled.
 */
export function RolesPage({ client, permissions }: PageProps) {
  const [roles, setRoles] = useState<CustomRole[]>([]);
  const [editing, setEditing] = useState<CustomRole>();
  const [message, setMessage] = useState<string>();
  const load = useCallback(() => {
    client
      .request<{ roles: CustomRole[] }>('GET', '/v1/roles')
      .then((answer) => {
        setRoles(answer.roles);
      })
      .catch((caught: unknown) => {
        setMessage(errorText(caught));
      });
  }, [client]);
  const remove = (name: string) => {
    setMessage(undefined);
    client
      .request('DELETE', `/v1/roles/${encodeURIComponent(name)}`)
      .then(() => {
        setMessage(`Role ${name} deleted.`);
        load();
      })
      .catch((caught: unknown) => {
        setMessage(errorText(caught));
      });
  };
  useEffect(load, [load]);
  return (
    <main>
      <h1>Custom roles</h1>
      <div className="columns">
        <RoleForm
          key={editing?.name ?? 'new'}
          client={client}
          held={permissions}
          role={editing}
          onSaved={() => {
            setEditing(undefined);
            load();
          }}
          onCancel={() => {
            setEditing(undefined);
          }}
        />
        <section className="card" aria-labelledby="roles-title">
          <h2 id="roles-title">Defined roles</h2>
          {roles.length === 0 ? (
            <p>No custom role yet. The built-in roles are described in the access-control documentation.</p>
          ) : (
            <ul className="plain-list">
              {roles.map((role) => (
                <li key={role.name}>
                  <strong>{role.name}</strong>{' '}
                  <span className="hint">
                    {role.permissions.length === 0 ? 'no permission' : role.permissions.join(', ')}
                  </span>{' '}
                  <button
                    type="button"
                    className="link"
                    aria-label={`Edit role ${role.name}`}
                    onClick={() => {
                      setEditing(role);
                    }}
                  >
                    Edit
                  </button>{' '}
                  <ConfirmButton
                    label="Delete"
                    name={`Delete role ${role.name}`}
                    confirm={`Confirm: delete ${role.name}`}
                    onConfirm={() => {
                      remove(role.name);
                    }}
                  />
                </li>
              ))}
            </ul>
          )}
          <p role="status">{message ?? ''}</p>
        </section>
      </div>
    </main>
  );
}

function RoleForm(props: {
  client: PageProps['client'];
  held: ReadonlySet<string>;
  role: CustomRole | undefined;
  onSaved: () => void;
  onCancel: () => void;
}) {
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const submit = (event: SyntheticEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = event.currentTarget;
    const name = props.role?.name ?? fieldOf(form, 'name').trim();
    const granted = PERMISSIONS.filter((permission) => fieldOf(form, `perm-${permission}`) === 'on');
    setBusy(true);
    setError(undefined);
    props.client
      .request('PUT', `/v1/roles/${encodeURIComponent(name)}`, { permissions: granted })
      .then(() => {
        form.reset();
        props.onSaved();
      })
      .catch((caught: unknown) => {
        setError(errorText(caught));
      })
      .finally(() => {
        setBusy(false);
      });
  };
  const title = props.role ? `Edit role ${props.role.name}` : 'Create a role';
  return (
    <form onSubmit={submit} className="card" aria-labelledby="role-form-title">
      <h2 id="role-form-title">{title}</h2>
      {props.role ? null : (
        <div className="field">
          <label>
            Role name
            <input
              name="name"
              required
              pattern={ROLE_NAME}
              spellCheck={false}
              autoComplete="off"
              aria-describedby="role-name-hint"
            />
          </label>
          <small id="role-name-hint" className="hint">
            Lower-case letters, digits and _; not a built-in role&apos;s name.
          </small>
        </div>
      )}
      <fieldset className="permissions">
        <legend>Permissions</legend>
        {PERMISSIONS.map((permission) => (
          <label key={permission} className="check">
            <input
              type="checkbox"
              name={`perm-${permission}`}
              defaultChecked={props.role?.permissions.includes(permission) ?? false}
              disabled={!props.held.has(permission)}
            />
            {spoken(permission)}
            {props.held.has(permission) ? null : <span className="sr-only"> (you do not hold it)</span>}
          </label>
        ))}
      </fieldset>
      <FormError text={error} />
      <div className="actions">
        <button type="submit" disabled={busy}>
          {busy ? 'Saving…' : props.role ? 'Save role' : 'Create role'}
        </button>
        {props.role ? (
          <button type="button" className="link" onClick={props.onCancel}>
            Cancel
          </button>
        ) : null}
      </div>
    </form>
  );
}
