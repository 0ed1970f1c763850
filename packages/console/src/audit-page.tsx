import type { AuditEntry, AuditFilter, AuditVerification } from '@parley/client';
import { type SyntheticEvent, useState } from 'react';
import { complianceOf, isoOfLocal, when } from './compliance-load.ts';
import type { PageProps } from './console-page.ts';
import { errorText } from './error-text.ts';
import { fieldOf } from './form-field.ts';
import { FormError } from './form-error.tsx';

const PAGE_SIZE = 25;
const ACTOR_TYPES = ['user', 'staff', 'system', 'client'] as const;

interface Shown {
  filter: AuditFilter;
  entries: AuditEntry[];
  /** The cursor of each page shown so far (the first is undefined), to go back. */
  cursors: (string | undefined)[];
  nextCursor: string | undefined;
}

/**
 * The tenant's audit log: filter by action (a prefix like `auth.*`), actor and time; page through it newest
 * first; export the selection as JSON lines; and have the server recompute the hash chain. Every read and
 * export is itself an audit entry.
 */
export function AuditPage({ client }: PageProps) {
  const compliance = complianceOf(client);
  const [shown, setShown] = useState<Shown>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const load = (filter: AuditFilter, cursors: (string | undefined)[]) => {
    setBusy(true);
    setError(undefined);
    compliance
      .auditPage(filter, { cursor: cursors.at(-1), limit: PAGE_SIZE })
      .then((page) => {
        setShown({ filter, entries: page.entries, cursors, nextCursor: page.nextCursor });
      })
      .catch((caught: unknown) => {
        setError(errorText(caught));
      })
      .finally(() => {
        setBusy(false);
      });
  };
  const search = (event: SyntheticEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = event.currentTarget;
    const text = (name: string) => fieldOf(form, name).trim() || undefined;
    const actorType = fieldOf(form, 'actorType');
    load(
      {
        action: text('action'),
        actorId: text('actorId'),
        actorType: ACTOR_TYPES.find((type) => type === actorType),
        from: isoOfLocal(fieldOf(form, 'from')),
        to: isoOfLocal(fieldOf(form, 'to')),
      },
      [undefined],
    );
  };

  return (
    <main>
      <h1>Audit log</h1>
      <div className="columns">
        <form onSubmit={search} className="card" aria-labelledby="audit-filter-title">
          <h2 id="audit-filter-title">Filter</h2>
          <label>
            Action
            <input name="action" placeholder="auth.* or support.accessed" maxLength={100} />
          </label>
          <label>
            Actor id
            <input name="actorId" maxLength={200} />
          </label>
          <label>
            Actor type
            <select name="actorType" defaultValue="">
              <option value="">any</option>
              {ACTOR_TYPES.map((type) => (
                <option key={type} value={type}>
                  {type}
                </option>
              ))}
            </select>
          </label>
          <div className="row">
            <label>
              From
              <input name="from" type="datetime-local" />
            </label>
            <label>
              To
              <input name="to" type="datetime-local" />
            </label>
          </div>
          <FormError text={error} />
          <button type="submit" disabled={busy}>
            {busy ? 'Loading…' : 'Show entries'}
          </button>
        </form>
        <ChainVerification verify={() => compliance.verifyAudit()} />
      </div>
      {shown ? (
        <section aria-labelledby="audit-entries-title">
          <div className="row">
            <h2 id="audit-entries-title">Entries</h2>
            <ExportButton exportFilter={() => compliance.auditExport(shown.filter)} />
          </div>
          <AuditTable entries={shown.entries} />
          <nav className="pager" aria-label="Audit log pages">
            <button
              type="button"
              disabled={busy || shown.cursors.length < 2}
              onClick={() => {
                load(shown.filter, shown.cursors.slice(0, -1));
              }}
            >
              Previous page
            </button>
            <span>Page {shown.cursors.length}</span>
            <button
              type="button"
              disabled={busy || shown.nextCursor === undefined}
              onClick={() => {
                load(shown.filter, [...shown.cursors, shown.nextCursor]);
              }}
            >
              Next page
            </button>
          </nav>
        </section>
      ) : (
        <p>Choose filters (or none) and show the entries, newest first.</p>
      )}
    </main>
  );
}

function AuditTable({ entries }: { entries: AuditEntry[] }) {
  if (entries.length === 0) return <p>No entry matches.</p>;
  return (
    <table className="grid">
      <caption className="sr-only">Audit entries, newest first</caption>
      <thead>
        <tr>
          <th scope="col">#</th>
          <th scope="col">Time</th>
          <th scope="col">Action</th>
          <th scope="col">Actor</th>
          <th scope="col">Target</th>
          <th scope="col">Outcome</th>
          <th scope="col">Details</th>
        </tr>
      </thead>
      <tbody>
        {entries.map((entry) => (
          <tr key={entry.id}>
            <td data-label="#">{entry.seq}</td>
            <td data-label="Time">{when(entry.occurredAt)}</td>
            <td data-label="Action">{entry.action}</td>
            <td data-label="Actor">
              {entry.actor.type}
              {entry.actor.id ? ` ${entry.actor.id}` : ''}
            </td>
            <td data-label="Target">
              {entry.target ? `${entry.target.type}${entry.target.id ? ` ${entry.target.id}` : ''}` : '—'}
            </td>
            <td data-label="Outcome" className={entry.outcome === 'success' ? undefined : 'bad'}>
              {entry.outcome}
            </td>
            <td data-label="Details">
              <code className="details">
                {Object.keys(entry.details).length === 0 ? '—' : JSON.stringify(entry.details)}
              </code>
              {entry.requestId ? <span className="muted"> request {entry.requestId}</span> : null}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Downloads the selection as `audit.jsonl`, with a progress indicator while the server streams it. */
function ExportButton({ exportFilter }: { exportFilter: () => Promise<Blob> }) {
  const [state, setState] = useState<string>();
  const [busy, setBusy] = useState(false);
  const run = () => {
    setBusy(true);
    setState('Exporting…');
    exportFilter()
      .then((blob) => {
        const url = URL.createObjectURL(blob);
        const link = document.createElement('a');
        link.href = url;
        link.download = 'audit.jsonl';
        link.click();
        setTimeout(() => {
          URL.revokeObjectURL(url);
        }, 60_000);
        setState(`Exported ${(blob.size / 1024).toFixed(1)} KiB.`);
      })
      .catch((caught: unknown) => {
        setState(errorText(caught));
      })
      .finally(() => {
        setBusy(false);
      });
  };
  return (
    <div className="actions">
      <button type="button" onClick={run} disabled={busy} aria-busy={busy}>
        {busy ? 'Exporting…' : 'Export (JSON lines)'}
      </button>
      <span role="status" className="muted">
        {state ?? ''}
      </span>
    </div>
  );
}

/** Runs the server's verification of the chain and shows what it found. */
function ChainVerification({ verify }: { verify: () => Promise<AuditVerification> }) {
  const [result, setResult] = useState<AuditVerification>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const run = () => {
    setBusy(true);
    setError(undefined);
    verify()
      .then(setResult)
      .catch((caught: unknown) => {
        setError(errorText(caught));
      })
      .finally(() => {
        setBusy(false);
      });
  };
  return (
    <section className="card" aria-labelledby="chain-title">
      <h2 id="chain-title">Hash chain</h2>
      <p>
        Every entry is chained to the one before it by a hash, and signed checkpoints pin the chain.
        Verification recomputes the whole chain on the server and compares it with the checkpoints and the
        anchor file.
      </p>
      <div role="status" aria-live="polite">
        {result === undefined ? (
          <p className="muted">Not verified in this session.</p>
        ) : result.ok ? (
          <p className="verdict good">
            Intact: {result.entries} entries and {result.checkpoints ?? 0} signed checkpoint
            {result.checkpoints === 1 ? '' : 's'} as recorded
            {result.prunedThrough ? ` (entries up to #${result.prunedThrough.seq} pruned by retention)` : ''}.
            Verified {when(result.verifiedAt)}.
          </p>
        ) : (
          <p className="verdict broken">
            Broken at entry #{result.firstBad?.seq}: {result.firstBad?.reason}. {result.entries} entries
            before it are intact. Verified {when(result.verifiedAt)}.
          </p>
        )}
      </div>
      <FormError text={error} />
      <button type="button" onClick={run} disabled={busy} aria-busy={busy}>
        {busy ? 'Verifying…' : 'Verify the chain'}
      </button>
    </section>
  );
}
