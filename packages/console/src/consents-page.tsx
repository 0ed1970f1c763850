import type { ConsentPurpose, PurposeCoverage } from '@parley/client';
import { useState } from 'react';
import { complianceOf, useLoad, when } from './compliance-load.ts';
import { ConsentLedger } from './consent-ledger.tsx';
import { CreatePurposeForm, NewVersionForm } from './consent-purpose-forms.tsx';
import type { PageProps } from './console-page.ts';
import { FormError } from './form-error.tsx';

const percent = (part: number, whole: number) =>
  whole === 0 ? '—' : `${Math.round((part / whole) * 100)} %`;

/**
 * Processing purposes (GDPR Art. 6 and 7) at their current versions, and how many active users stand where for
 * each: granted the current version, an outdated one, withdrawn, or never asked. With `consent.manage`: publish
 * a purpose or a new version of one, and read one user's consent ledger (found by e-mail with `users.read`).
 */
export function ConsentsPage({ client, permissions }: PageProps) {
  const compliance = complianceOf(client);
  const canManage = permissions.has('consent.manage');
  const loaded = useLoad(() => Promise.all([compliance.purposes(), compliance.consentCoverage()]));
  const [purposes, coverage] = loaded.data ?? [undefined, []];
  const coverageOf = new Map<string, PurposeCoverage>(coverage.map((entry) => [entry.key, entry]));
  const [editing, setEditing] = useState<ConsentPurpose>();
  const [published, setPublished] = useState<string>();
  return (
    <main>
      <h1>Consents and purposes</h1>
      <FormError text={loaded.error} />
      <p role="status">{published ?? ''}</p>
      {purposes === undefined ? (
        <p className="muted">{loaded.loading ? 'Loading…' : ''}</p>
      ) : (
        <table className="grid">
          <caption className="sr-only">Processing purposes and consent coverage</caption>
          <thead>
            <tr>
              <th scope="col">Purpose</th>
              <th scope="col">Lawful basis</th>
              <th scope="col">Version</th>
              <th scope="col">Required</th>
              <th scope="col">Granted</th>
              <th scope="col">Outdated</th>
              <th scope="col">Withdrawn</th>
              <th scope="col">Not given</th>
              {canManage ? <th scope="col">Wording</th> : null}
            </tr>
          </thead>
          <tbody>
            {purposes.map((purpose) => {
              const entry = coverageOf.get(purpose.key);
              const users = entry?.activeUsers ?? 0;
              return (
                <tr key={purpose.key} className={purpose.active ? undefined : 'retired'}>
                  <td data-label="Purpose">
                    <strong>{purpose.title}</strong> <code>{purpose.key}</code>
                    {purpose.active ? null : <span className="muted"> (retired)</span>}
                  </td>
                  <td data-label="Lawful basis">{purpose.lawfulBasis.replaceAll('_', ' ')}</td>
                  <td data-label="Version">
                    {purpose.version} <span className="muted">({when(purpose.publishedAt)})</span>
                  </td>
                  <td data-label="Required">{purpose.required ? 'yes' : 'no'}</td>
                  <td data-label="Granted">
                    {entry ? `${entry.granted} of ${users} (${percent(entry.granted, users)})` : '—'}
                  </td>
                  <td data-label="Outdated" className={entry?.outdated ? 'bad' : undefined}>
                    {entry?.outdated ?? '—'}
                  </td>
                  <td data-label="Withdrawn">{entry?.withdrawn ?? '—'}</td>
                  <td data-label="Not given">{entry?.none ?? '—'}</td>
                  {canManage ? (
                    <td data-label="Wording">
                      <button
                        type="button"
                        aria-label={`New version of ${purpose.key}`}
                        onClick={() => {
                          setPublished(undefined);
                          setEditing(purpose);
                        }}
                      >
                        New version…
                      </button>
                    </td>
                  ) : null}
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      <p className="muted">
        Coverage counts active users for each purpose’s current version. A user who accepted an older version
        is outdated: they are asked again at their next sign-in when the purpose is required.
      </p>
      {canManage && editing ? (
        <NewVersionForm
          key={`${editing.key}-${editing.version}`}
          client={client}
          purpose={editing}
          onPublished={(next) => {
            setEditing(undefined);
            setPublished(`Published ${next.key}, version ${next.version}.`);
            loaded.reload();
          }}
          onCancel={() => {
            setEditing(undefined);
          }}
        />
      ) : null}
      {canManage ? (
        <>
          <CreatePurposeForm client={client} onCreated={loaded.reload} />
          <ConsentLedger
            client={client}
            purposes={purposes ?? []}
            canFindByEmail={permissions.has('users.read')}
          />
        </>
      ) : null}
    </main>
  );
}
