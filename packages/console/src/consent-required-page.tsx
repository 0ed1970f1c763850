import { type MyConsent, ParleyApiError, type ParleyClient } from '@parley/client';
import { type SyntheticEvent, useCallback, useEffect, useState } from 'react';
import { owedPurposes } from './consent-owed.ts';
import { errorText } from './error-text.ts';
import { FormError } from './form-error.tsx';
import './consent-required-page.css';

interface ConsentRequiredPageProps {
  client: ParleyClient;
  /** The page's heading: the console's or the chat app's name. */
  appName?: string;
  /** How an error is worded for the user (the chat app words realtime errors its own way). */
  describe?: (error: unknown) => string;
  /** After the grants: the same token works in full again (no new sign-in). */
  onAccepted: () => void;
  onSignOut: () => void;
}

/**
 * The sign-in answered `consent_required` (or a required purpose got a new version while signed in): the token
 * reaches `profile` routes only until the user accepts the current version of every required purpose. Each is
 * shown in full with its own checkbox (GDPR Art. 7: consent to each purpose, on its text), as plain text.
 * Declining keeps the user out: they are told why, and may sign out or read the purposes again. Shared by the
 * console and the chat app (/app/).
 */
export function ConsentRequiredPage({
  client,
  appName = 'Parley console',
  describe = errorText,
  onAccepted,
  onSignOut,
}: ConsentRequiredPageProps) {
  const [owed, setOwed] = useState<MyConsent[]>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [declined, setDeclined] = useState(false);
  const load = useCallback(() => {
    setOwed(undefined);
    client.consents
      .list()
      .then((consents) => {
        setOwed(owedPurposes(consents));
      })
      .catch((caught: unknown) => {
        setError(describe(caught));
      });
  }, [client, describe]);
  useEffect(load, [load]);
  const submit = (event: SyntheticEvent<HTMLFormElement>) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    Promise.all((owed ?? []).map((entry) => client.consents.grant(entry.purpose.key, entry.purpose.version)))
      .then(onAccepted)
      .catch((caught: unknown) => {
        setBusy(false);
        if (caught instanceof ParleyApiError && caught.code === 'consent_version_stale') {
          // Published anew while it was read: the new text must be shown (and accepted) instead.
          setError('The text of a purpose changed meanwhile. Read it again below.');
          load();
          return;
        }
        setError(describe(caught));
      });
  };
  if (declined)
    return (
      <main className="narrow">
        <h1>{appName}</h1>
        <section className="card" aria-labelledby="consent-declined-title">
          <h2 id="consent-declined-title">You have not accepted</h2>
          <p>Your organisation requires these purposes, so you cannot use {appName} until you accept them.</p>
          <div className="row">
            <button type="button" onClick={onSignOut}>
              Sign out
            </button>
            <button
              type="button"
              className="link"
              onClick={() => {
                setDeclined(false);
              }}
            >
              Read them again
            </button>
          </div>
        </section>
      </main>
    );
  return (
    <main className="narrow">
      <h1>{appName}</h1>
      <form onSubmit={submit} className="card consent-step" aria-labelledby="consent-title">
        <h2 id="consent-title">Before you continue</h2>
        <p>Your organisation asks you to accept the following before you use Parley.</p>
        {owed === undefined ? (
          <p role="status">Loading…</p>
        ) : (
          owed.map((entry) => (
            <fieldset key={entry.purpose.key}>
              <legend>{entry.purpose.title}</legend>
              <p className="purpose-version">Version {entry.purpose.version}</p>
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
        <div className="row">
          <button
            type="button"
            className="link"
            onClick={() => {
              setDeclined(true);
            }}
          >
            Decline
          </button>
          <button type="button" className="link" onClick={onSignOut}>
            Sign out
          </button>
        </div>
      </form>
    </main>
  );
}
