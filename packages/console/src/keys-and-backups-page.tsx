import type { ComplianceControl, ParleyClient } from '@parley/client';
import { useState } from 'react';
import { complianceOf, useLoad, when } from './compliance-load.ts';
import { ConfirmButton } from './confirm-button.tsx';
import type { PageProps } from './console-page.ts';
import { errorText } from './error-text.ts';
import { FormError } from './form-error.tsx';
import {
  type BackupFacts,
  daysUntil,
  type KeyFacts,
  type KeyRow,
  keysAndBackupsOf,
  sizeText,
} from './keys-and-backups-evidence.ts';
import './keys-and-backups.css';

const STATUS_TEXT: Readonly<Record<ComplianceControl['status'], string>> = {
  met: 'met',
  attention: 'needs attention',
  not_met: 'not met',
};

const STATUS_CLASS: Readonly<Record<ComplianceControl['status'], string>> = {
  met: 'good',
  attention: 'attention',
  not_met: 'broken',
};

/** What each key is, in words, and what it protects. */
function keyLabel(key: KeyRow): { name: string; protects: string } {
  if (key.kind === 'tenant' && key.purpose === 'data')
    return { name: 'This tenant’s data key', protects: 'User keys and tenant-sealed fields' };
  if (key.kind === 'tenant' && key.purpose === 'index')
    return { name: 'This tenant’s index key', protects: 'Blind indexes (look-ups without plain text)' };
  if (key.kind === 'tenant') return { name: `This tenant’s ${key.purpose ?? ''} key`, protects: '—' };
  if (key.kind === 'master')
    return { name: 'Installation master key', protects: 'Wraps every tenant key and signing key' };
  if (key.kind === 'signing')
    return { name: 'Audit signing key', protects: 'Signs audit checkpoints and evidence reports' };
  return { name: key.name, protects: '—' };
}

function Verdict({ label, control }: { label: string; control: ComplianceControl }) {
  return (
    <div className="control-verdict">
      <p className={`verdict ${STATUS_CLASS[control.status]}`}>
        {label}: {STATUS_TEXT[control.status]}
      </p>
      {control.findings.length > 0 ? (
        <ul aria-label={`${label}: reasons`}>
          {control.findings.map((finding) => (
            <li key={finding}>{finding}</li>
          ))}
        </ul>
      ) : (
        <p className="muted">Nothing to act on.</p>
      )}
    </div>
  );
}

function RotationCell({ row, now }: { row: KeyRow; now: number }) {
  if (row.rotationDueAt === null) return <>—</>;
  if (row.rotationOverdue) return <span className="bad">Overdue since {when(row.rotationDueAt)}</span>;
  const days = daysUntil(row.rotationDueAt, now);
  return (
    <>
      Due {when(row.rotationDueAt)} ({days === 0 ? 'today' : `in ${days} day${days === 1 ? '' : 's'}`})
    </>
  );
}

/** What `POST /v1/tenant/keys/rotation` answers. */
interface Rotation {
  dataKeyVersion: number;
  rotationPending: boolean;
  started: boolean;
}

/**
 * The owner's "rotate this tenant's data key" (`tenant.manage`), asked to confirm. Offered only while no
 * rotation is pending; the server starts none while one is, whatever the page shows.
 */
function RotateDataKey({
  client,
  pending,
  onRotated,
}: {
  client: ParleyClient;
  pending: boolean;
  onRotated: () => void;
}) {
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<string>();
  const [error, setError] = useState<string>();
  return (
    <div className="rotate">
      <ConfirmButton
        label="Rotate this tenant’s data key…"
        name="Rotate this tenant’s data key"
        confirm="Confirm: rotate the data key now"
        disabled={busy || pending}
        onConfirm={() => {
          setBusy(true);
          setError(undefined);
          client
            .request<Rotation>('POST', '/v1/tenant/keys/rotation')
            .then((rotation) => {
              setMessage(
                rotation.started
                  ? `Rotation started: new data uses key version ${rotation.dataKeyVersion}; user keys move over in the background.`
                  : `A rotation to version ${rotation.dataKeyVersion} is already running; none was added.`,
              );
              onRotated();
            })
            .catch((caught: unknown) => {
              setError(errorText(caught));
            })
            .finally(() => {
              setBusy(false);
            });
        }}
      />
      {message ? <p role="status">{message}</p> : null}
      <FormError text={error} />
    </div>
  );
}

function KeysSection({
  facts,
  now,
  rotate,
}: {
  facts: KeyFacts;
  now: number;
  rotate: { client: ParleyClient; onRotated: () => void } | undefined;
}) {
  return (
    <section aria-labelledby="keys-title">
      <h2 id="keys-title">Encryption keys</h2>
      <Verdict label="Key management" control={facts.control} />
      {facts.rotationPending === true ? (
        <p className="rotation running">
          <span className="badge pending">rotation running</span> This tenant’s data key was rotated: new data
          already uses the new version, and the existing user keys are being re-wrapped onto it in the
          background.
        </p>
      ) : facts.rotationPending === false ? (
        <p className="rotation">No key rotation is pending for this tenant.</p>
      ) : null}
      <p className="muted">
        Policy: every key is rotated within {facts.rotationPeriodDays ?? '—'} days (the operator’s
        PARLEY_KEY_ROTATION_DAYS). The operator rotates them with <code>parley keys rotate-data-key</code> and{' '}
        <code>parley keys rotate-master</code>; the tenant’s owner may rotate its data key here.
      </p>
      {rotate ? (
        <RotateDataKey
          client={rotate.client}
          pending={facts.rotationPending === true}
          onRotated={rotate.onRotated}
        />
      ) : null}
      <table className="grid keys">
        <caption className="sr-only">Keys in use</caption>
        <thead>
          <tr>
            <th scope="col">Key</th>
            <th scope="col">Version</th>
            <th scope="col">Created</th>
            <th scope="col">Age</th>
            <th scope="col">Rotation</th>
          </tr>
        </thead>
        <tbody>
          {facts.keys.map((row) => {
            const label = keyLabel(row);
            return (
              <tr key={row.name} className={row.rotationOverdue ? 'overdue' : undefined}>
                <td data-label="Key">
                  <strong>{label.name}</strong>
                  <br />
                  <span className="muted">{label.protects}</span>
                </td>
                <td data-label="Version">{row.version ?? '—'}</td>
                <td data-label="Created">{when(row.createdAt)}</td>
                <td data-label="Age">
                  {row.ageDays === null ? '—' : `${row.ageDays} day${row.ageDays === 1 ? '' : 's'}`}
                </td>
                <td data-label="Rotation">
                  <RotationCell row={row} now={now} />
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </section>
  );
}

function BackupsSection({ facts }: { facts: BackupFacts }) {
  const verify =
    facts.lastVerifyResult === null
      ? 'never run'
      : `${when(facts.lastVerifyAt)}: ${facts.lastVerifyResult === 'passed' ? 'passed' : 'FAILED'}`;
  return (
    <section aria-labelledby="backups-title">
      <h2 id="backups-title">Backups</h2>
      <Verdict label="Backups" control={facts.control} />
      <dl className="facts backup-facts">
        <dt>Backup tool</dt>
        <dd>{facts.engine ?? '—'}</dd>
        <dt>Scheduled backups</dt>
        <dd className={facts.scheduled === false ? 'bad' : undefined}>
          {facts.scheduled === null ? '—' : facts.scheduled ? 'on' : 'off'}
        </dd>
        <dt>Last successful backup</dt>
        <dd className={facts.lastSuccessAt === null ? 'bad' : undefined}>
          {facts.lastSuccessAt === null
            ? 'none yet'
            : `${when(facts.lastSuccessAt)}${
                facts.lastSuccessBytes === null ? '' : `, ${sizeText(facts.lastSuccessBytes)} stored`
              }`}
        </dd>
        <dt>Last attempt</dt>
        <dd className={facts.lastOutcome === 'failed' ? 'bad' : undefined}>
          {facts.lastOutcome === null
            ? 'none yet'
            : `${when(facts.lastAttemptAt)}: ${
                facts.lastOutcome === 'failed' ? `FAILED (${facts.lastErrorCode ?? 'unknown'})` : 'succeeded'
              }`}
        </dd>
        <dt>Last verification (trial restore)</dt>
        <dd className={facts.lastVerifyResult === 'passed' ? undefined : 'bad'}>{verify}</dd>
      </dl>
    </section>
  );
}

/**
 * Keys and backups at a glance, read from the signed evidence report computed now (controls
 * `key_management` and `backups`): each key's version, age and rotation date against the policy, whether
 * this tenant's data-key rotation is still re-wrapping, and the installation's last backup and restore
 * drill. Each look issues a report, recorded in the audit log like any other.
 */
export function KeysAndBackupsPage({ client, permissions }: PageProps) {
  const compliance = complianceOf(client);
  const loaded = useLoad(async () => keysAndBackupsOf(await compliance.complianceReport()));
  const facts = loaded.data;
  return (
    <main className="keys-and-backups">
      <h1>Keys and backups</h1>
      <p>
        From the compliance evidence report, computed from live state when this page opens and recorded in the
        audit log. Keys and backups are run by the installation’s operator; this page shows where they stand.
      </p>
      <div className="actions">
        <button type="button" disabled={loaded.loading} aria-busy={loaded.loading} onClick={loaded.reload}>
          {loaded.loading ? 'Checking…' : 'Check again'}
        </button>
      </div>
      <FormError text={loaded.error} />
      {facts ? (
        <>
          <p className="muted" role="status">
            As of {when(facts.generatedAt)} (report {facts.reportId}).
          </p>
          {facts.keys ? (
            <KeysSection
              facts={facts.keys}
              now={Date.parse(facts.generatedAt)}
              rotate={permissions.has('tenant.manage') ? { client, onRotated: loaded.reload } : undefined}
            />
          ) : null}
          {facts.backups ? <BackupsSection facts={facts.backups} /> : null}
        </>
      ) : null}
    </main>
  );
}
