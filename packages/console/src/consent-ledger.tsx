import type { ConsentPurpose, ParleyClient } from '@parley/client';
import type { ConsentLedgerEntry } from '@parley/protocol';
import { type SyntheticEvent, useState } from 'react';
import { when } from './compliance-load.ts';
import { errorText } from './error-text.ts';
import { fieldOf } from './form-field.ts';
import { FormError } from './form-error.tsx';
import type { UserSummary } from './user-row.tsx';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ACTION: Record<ConsentLedgerEntry['action'], string> = { grant: 'granted', withdraw: 'withdrew' };
const SOURCE: Record<ConsentLedgerEntry['source'], string> = {
  signup: 'at sign-up',
  claim: 'claiming an invitation',
  setup: 'setting up the tenant (owner)',
  self: 'by the user, in their consents',
};

interface Shown {
  who: string;
  entries: ConsentLedgerEntry[];
}

/**
 * One user's consent ledger, oldest first: every grant and withdrawal with the purpose, the version and its
 * text hash, how it was given and when. The user is found by exact e-mail address (with `users.read`) or by id.
 */
export function ConsentLedger({
  client,
  purposes,
  canFindByEmail,
}: {
  client: ParleyClient;
  purposes: readonly ConsentPurpose[];
  canFindByEmail: boolean;
}) {
  const [error, setError] = useState<string>();
  const [shown, setShown] = useState<Shown>();
  const titleOf = new Map(purposes.map((purpose) => [purpose.key, purpose.title]));
  const userOf = async (given: string): Promise<{ id: string; who: string } | undefined> => {
    if (UUID.test(given)) return { id: given.toLowerCase(), who: given.toLowerCase() };
    const { users } = await client.request<{ users: UserSummary[] }>(
      'GET',
      `/v1/users?email=${encodeURIComponent(given)}`,
    );
    const [found] = users;
    return found ? { id: found.id, who: `${found.email ?? given} (${found.id})` } : undefined;
  };
  const submit = (event: SyntheticEvent<HTMLFormElement>) => {
    event.preventDefault();
    const given = fieldOf(event.currentTarget, 'user').trim();
    setError(undefined);
    setShown(undefined);
    if (!UUID.test(given) && !canFindByEmail) {
      setError('Enter a user id (your role may not look users up by e-mail address).');
      return;
    }
    userOf(given)
      .then(async (user) => {
        if (!user) {
          setError('No user has this e-mail address.');
          return;
        }
        const { entries } = await client.request<{ entries: ConsentLedgerEntry[] }>(
          'GET',
          `/v1/users/${encodeURIComponent(user.id)}/consent-ledger`,
        );
        setShown({ who: user.who, entries });
      })
      .catch((caught: unknown) => {
        setError(errorText(caught));
      });
  };
  return (
    <section aria-labelledby="ledger-title">
      <h2 id="ledger-title">A user’s consent ledger</h2>
      <form onSubmit={submit} className="card" aria-label="Show a user’s consent ledger">
        <label>
          {canFindByEmail ? 'E-mail address (exact) or user id' : 'User id'}
          <input name="user" required maxLength={320} autoComplete="off" />
        </label>
        <FormError text={error} />
        <button type="submit">Show the ledger</button>
      </form>
      {shown === undefined ? null : shown.entries.length === 0 ? (
        <p role="status">No grant or withdrawal recorded for {shown.who}.</p>
      ) : (
        <table className="grid">
          <caption>Consent ledger of {shown.who}, oldest first</caption>
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Purpose</th>
              <th scope="col">Version</th>
              <th scope="col">Action</th>
              <th scope="col">How</th>
              <th scope="col">Text hash (SHA-256)</th>
            </tr>
          </thead>
          <tbody>
            {shown.entries.map((entry, index) => (
              <tr key={`${entry.at}-${entry.purposeKey}-${index}`}>
                <td data-label="Time">{when(entry.at)}</td>
                <td data-label="Purpose">
                  {titleOf.get(entry.purposeKey) ?? ''} <code>{entry.purposeKey}</code>
                </td>
                <td data-label="Version">{entry.version}</td>
                <td data-label="Action" className={entry.action === 'withdraw' ? 'bad' : undefined}>
                  {ACTION[entry.action]}
                </td>
                <td data-label="How">{SOURCE[entry.source]}</td>
                <td data-label="Text hash (SHA-256)">
                  <code title={entry.textHash}>{entry.textHash.slice(0, 12)}…</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
