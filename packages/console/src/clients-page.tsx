import { type SyntheticEvent, useState } from 'react';
import type { PageProps } from './console-page.ts';
import { errorText } from './error-text.ts';
import { fieldOf } from './form-field.ts';
import { FormError } from './form-error.tsx';
import { SCOPES } from './permission-names.ts';

interface CreatedClient {
  clientId: string;
  name: string;
  scopes: string[];
}

/**
 * OAuth clients for the tenant's own servers (client_credentials). The secret is answered once, at creation:
 * the page shows it until dismissed and keeps only the id afterwards.
 */
export function ClientsPage({ client }: PageProps) {
  const [created, setCreated] = useState<CreatedClient[]>([]);
  const [secret, setSecret] = useState<{ clientId: string; clientSecret: string }>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const submit = (event: SyntheticEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = event.currentTarget;
    const name = fieldOf(form, 'name').trim();
    const scopes = SCOPES.filter((scope) => fieldOf(form, `scope-${scope}`) === 'on');
    if (scopes.length === 0) {
      setError('Choose at least one scope.');
      return;
    }
    setBusy(true);
    setError(undefined);
    client
      .request<{ clientId: string; clientSecret: string }>('POST', '/v1/clients', { name, scopes })
      .then((answer) => {
        setSecret(answer);
        setCreated((current) => [{ clientId: answer.clientId, name, scopes }, ...current]);
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
    <main>
      <h1>OAuth clients</h1>
      {secret ? (
        <section className="card secret-once" aria-labelledby="secret-title">
          <h2 id="secret-title">Copy the client secret now</h2>
          <p>It is shown only this once; Parley keeps only its hash.</p>
          <dl>
            <dt>Client id</dt>
            <dd>
              <code>{secret.clientId}</code>
            </dd>
            <dt>Client secret</dt>
            <dd>
              <code data-testid="client-secret">{secret.clientSecret}</code>
            </dd>
          </dl>
          <button
            type="button"
            autoFocus
            onClick={() => {
              setSecret(undefined);
            }}
          >
            I have copied it
          </button>
        </section>
      ) : null}
      <div className="columns">
        <form onSubmit={submit} className="card" aria-labelledby="client-create-title">
          <h2 id="client-create-title">Create a client</h2>
          <label>
            Name
            <input name="name" required maxLength={200} autoComplete="off" />
          </label>
          <fieldset>
            <legend>Scopes</legend>
            {SCOPES.map((scope) => (
              <label key={scope} className="check">
                <input type="checkbox" name={`scope-${scope}`} defaultChecked={scope === 'chat'} />
                {scope}
              </label>
            ))}
          </fieldset>
          <FormError text={error} />
          <button type="submit" disabled={busy}>
            {busy ? 'Creating…' : 'Create client'}
          </button>
        </form>
        <section className="card" aria-labelledby="clients-title">
          <h2 id="clients-title">Created in this session</h2>
          {created.length === 0 ? (
            <p>The server offers no listing of clients yet; clients you create here are shown.</p>
          ) : (
            <ul className="plain-list">
              {created.map((entry) => (
                <li key={entry.clientId}>
                  <strong>{entry.name}</strong> <code>{entry.clientId}</code>{' '}
                  <span className="hint">{entry.scopes.join(' ')}</span>
                </li>
              ))}
            </ul>
          )}
        </section>
      </div>
    </main>
  );
}
