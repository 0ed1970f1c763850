import type { MyConsent, ParleyClient } from '@parley/client';
import { type SyntheticEvent, useEffect, useState } from 'react';
import { errorText } from './error-text.ts';
import { FormError } from './form-error.tsx';

interface ConsentRequiredPageProps {
  client: ParleyClient;
  /** After the grants: the same token works in full again (no new sign-in). */
  onAccepted: () => void;
  onSignOut: () => void;
}

/**
 * The sign-in answered `consent_required`: the token reaches `profile` routes only until the user accepts the
 * current version of every required purpose. Each is shown in full with its own checkbox (GDPR Art. 7: consent
 * to each purpose, on its text).
 */
export function ConsentRequiredPage({ client, onAccepted, onSignOut }: ConsentRequiredPageProps) {
  const [owed, setOwed] = useState<MyConsent[]>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    client.consents
      .list()
      .then((consents) => {
        setOwed(
          consents.filter(
            (entry) => entry.purpose.required && entry.purpose.active && entry.state !== 'granted',
          ),
        );
      })
      .catch((caught: unknown) => {
        setError(errorText(caught));
      });
  }, [client]);
  const submit = (event: SyntheticEvent<HTMLFormElement>) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    Promise.all((owed ?? []).map((entry) => client.consents.grant(entry.purpose.key, entry.purpose.version)))
      .then(onAccepted)
      .catch((caught: unknown) => {
        setError(errorText(caught));
        setBusy(false);
      });
  };
  return (
    <main className="narrow">
      <h1>Parley console</h1>
      <form onSubmit={submit} className="card" aria-labelledby="consent-title">
        <h2 id="consent-title">Before you continue</h2>
        <p>Your organisation asks you to accept the following before you use Parley.</p>
        {owed === undefined ? (
          <p role="status">Loading…</p>
        ) : (
          owed.map((entry) => (
            <fieldset key={entry.purpose.key}>
              <legend>{entry.purpose.title}</legend>
              <div className="purpose-text">{entry.purpose.text}</div>
              <label className="check">
                <input type="checkbox" name={`accept-${entry.purpose.key}`} required />I accept:{' '}
                {entry.purpose.title}
              </label>
            </fieldset>
          ))
        )}
        <FormError text={error} />
        <button type="submit" disabled={busy || owed === undefined}>
          {busy ? 'Saving…' : 'Accept and continue'}
        </button>
        <button type="button" className="link" onClick={onSignOut}>
          Sign out
        </button>
      </form>
    </main>
  );
}
