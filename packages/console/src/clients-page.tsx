import { type SyntheticEvent, useCallback, useEffect, useState } from 'react';
import { ConfirmButton } from './confirm-button.tsx';
import type { PageProps } from './console-page.ts';
import { errorText } from './error-text.ts';
import { fieldOf } from './form-field.ts';
import { FormError } from './form-error.tsx';
import { SCOPES } from './permission-names.ts';

/** A client as `GET /v1/clients` lists it (never its secret). */
interface ClientSummary {
  clientId: string;
  name: string;
  scopes: string[];
  createdAt: string;
}

interface ShownSecret {
  clientId: string;
  clientSecret: string;
  /** "created" or "rotated": what the notice says happened. */
  event: string;
}

/**
 * OAuth clients for the tenant's own servers (client_credentials). A secret is answered once, at creation or
 * rotation: the page shows it until dismissed and never again (Parley keeps only its hash).
 */
export function ClientsPage({ client }: PageProps) {
  const [clients, setClients] = useState<ClientSummary[]>([]);
  const [secret, setSecret] = useState<ShownSecret>();
  const [message, setMessage] = useState<string>();
  const load = useCallback(() => {
    client
      .request<{ clients: ClientSummary[] }>('GET', '/v1/clients')
      .then((answer) => {
        setClients(answer.clients);
      })
      .catch((caught: unknown) => {
        setMessage(errorText(caught));
      });
  }, [client]);
  useEffect(load, [load]);
  const act = (work: Promise<unknown>, done: string) => {
    setMessage(undefined);
    work
      .then(() => {
        setMessage(done);
        load();
      })
      .catch((caught: unknown) => {
        setMessage(errorText(caught));
      });
  };
  const path = (entry: ClientSummary) => `/v1/clients/${encodeURIComponent(entry.clientId)}`;
  return (
    <main>
      <h1>OAuth clients</h1>
      {secret ? (
        <SecretOnce
          secret={secret}
          onDismiss={() => {
            setSecret(undefined);
          }}
        />
      ) : null}
      <div className="columns">
        <CreateClient
          client={client}
          onCreated={(created) => {
            setSecret({ ...created, event: 'created' });
            load();
          }}
        />
        <section className="card" aria-labelledby="clients-title">
          <h2 id="clients-title">Clients</h2>
          {clients.length === 0 ? (
            <p>No client yet.</p>
          ) : (
            <ul className="plain-list">
              {clients.map((entry) => (
                <li key={entry.clientId}>
                  <strong>{entry.name}</strong> <span className="hint">{entry.scopes.join(' ')}</span>
                  <br />
                  <code>{entry.clientId}</code>
                  <div className="actions">
                    <ConfirmButton
                      label="Rotate secret"
                      name={`Rotate the secret of ${entry.name}`}
                      confirm={`Confirm: new secret for ${entry.name}`}
                      onConfirm={() => {
                        client
                          .request<{ clientId: string; clientSecret: string }>(
                            'POST',
                            `${path(entry)}/secret`,
                          )
                          .then((rotated) => {
                            setSecret({ ...rotated, event: 'rotated' });
                          })
                          .catch((caught: unknown) => {
                            setMessage(errorText(caught));
                          });
                      }}
                    />
                    <ConfirmButton
                      label="Delete"
                      name={`Delete ${entry.name}`}
                      confirm={`Confirm: delete ${entry.name}`}
                      onConfirm={() => {
                        act(
                          client.request('DELETE', path(entry)),
                          `${entry.name} deleted; its tokens ended.`,
                        );
                      }}
                    />
                  </div>
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

function SecretOnce({ secret, onDismiss }: { secret: ShownSecret; onDismiss: () => void }) {
  return (
    <section className="card secret-once" aria-labelledby="secret-title">
      <h2 id="secret-title">Copy the client secret now</h2>
      <p>
        {secret.event === 'rotated'
          ? 'The old secret no longer works and the tokens got with it have ended. '
          : ''}
        The secret is shown only this once; Parley keeps only its hash.
      </p>
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
      <button type="button" autoFocus onClick={onDismiss}>
        I have copied it
      </button>
    </section>
  );
}

function CreateClient(props: {
  client: PageProps['client'];
  onCreated: (created: { clientId: string; clientSecret: string }) => void;
}) {
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
    props.client
      .request<{ clientId: string; clientSecret: string }>('POST', '/v1/clients', { name, scopes })
      .then((answer) => {
        props.onCreated(answer);
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
  );
}
