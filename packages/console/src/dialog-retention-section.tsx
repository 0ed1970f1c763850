import type { ParleyClient, RetentionRulesBody } from '@parley/client';
import type { DialogRetentionKind, DialogRetentionRules, DialogRetentionView } from '@parley/protocol';
import { type SyntheticEvent, useState } from 'react';
import { clearDialogRetention, dialogRetention, setDialogRetention } from './compliance-requests-api.ts';
import { errorText } from './error-text.ts';
import { fieldOf } from './form-field.ts';
import { FormError } from './form-error.tsx';

const KINDS: readonly (readonly [DialogRetentionKind, string])[] = [
  ['messages', 'Messages'],
  ['attachments', 'Attachments'],
  ['callRecords', 'Call records'],
  ['searchEntries', 'Search entries'],
];

const UNLIMITED = 'unlimited';
const period = (value: string | null | undefined) => (value === null ? UNLIMITED : (value ?? ''));

/**
 * One dialog's retention: its overrides of the tenant's rules (shorter or longer; `unlimited` keeps without
 * limit; empty follows the tenant), the tenant's rule and the rule each kind follows now. The server validates
 * an override (at least an hour; search entries no longer than messages).
 */
export function DialogRetentionSection({
  client,
  tenant,
}: {
  client: ParleyClient;
  tenant: RetentionRulesBody | undefined;
}) {
  const [view, setView] = useState<DialogRetentionView>();
  const [error, setError] = useState<string>();
  const [status, setStatus] = useState('');
  const [busy, setBusy] = useState(false);
  const run = (work: Promise<DialogRetentionView>, done: string) => {
    setBusy(true);
    setError(undefined);
    setStatus('');
    work
      .then((answer) => {
        setView(answer);
        setStatus(done);
      })
      .catch((caught: unknown) => {
        setError(errorText(caught));
      })
      .finally(() => {
        setBusy(false);
      });
  };
  const lookUp = (event: SyntheticEvent<HTMLFormElement>) => {
    event.preventDefault();
    setView(undefined);
    run(dialogRetention(client, fieldOf(event.currentTarget, 'dialogId').trim()), '');
  };
  const save = (event: SyntheticEvent<HTMLFormElement>) => {
    event.preventDefault();
    if (!view) return;
    const form = event.currentTarget;
    const rules: DialogRetentionRules = {};
    for (const [kind] of KINDS) {
      const value = fieldOf(form, kind).trim();
      if (value) rules[kind] = value === UNLIMITED ? null : value;
    }
    if (Object.keys(rules).length === 0) {
      setError('Name at least one period, or remove the override.');
      return;
    }
    run(setDialogRetention(client, view.dialogId, rules), 'Override saved.');
  };
  const overridden = view ? KINDS.some(([kind]) => view[kind] !== undefined) : false;
  return (
    <section className="card" aria-labelledby="dialog-retention-title">
      <h2 id="dialog-retention-title">A dialog’s retention</h2>
      <form onSubmit={lookUp} className="row wrap" aria-label="Look up a dialog">
        <label>
          Dialog id
          <input name="dialogId" required pattern="[0-9a-fA-F-]{36}" autoComplete="off" />
        </label>
        <button type="submit" disabled={busy}>
          Show its retention
        </button>
      </form>
      {view ? (
        <form key={JSON.stringify(view)} onSubmit={save} aria-label="Dialog override">
          <table className="grid">
            <caption>
              Dialog <code>{view.dialogId}</code>
              {overridden ? '' : ': follows the tenant’s rules'}
            </caption>
            <thead>
              <tr>
                <th scope="col">Kind</th>
                <th scope="col">Tenant rule</th>
                <th scope="col">Dialog override</th>
                <th scope="col">In force</th>
              </tr>
            </thead>
            <tbody>
              {KINDS.map(([kind, text]) => (
                <tr key={kind}>
                  <th scope="row">{text}</th>
                  <td data-label="Tenant rule">{tenant ? (tenant[kind] ?? UNLIMITED) : '—'}</td>
                  <td data-label="Dialog override">
                    <input
                      name={kind}
                      aria-label={`${text}: dialog override`}
                      defaultValue={period(view[kind])}
                      placeholder="follows the tenant"
                      pattern={`[1-9][0-9]{0,6}[mhd]|${UNLIMITED}`}
                    />
                  </td>
                  <td data-label="In force">{view.effective[kind] ?? UNLIMITED}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <p className="muted">
            A period like <code>12h</code> or <code>90d</code>, <code>{UNLIMITED}</code> to keep without
            limit, empty to follow the tenant’s rule.
          </p>
          <div className="actions">
            <button type="submit" disabled={busy}>
              Save override
            </button>
            {overridden ? (
              <button
                type="button"
                disabled={busy}
                onClick={() => {
                  run(clearDialogRetention(client, view.dialogId), 'Override removed.');
                }}
              >
                Remove override
              </button>
            ) : null}
          </div>
        </form>
      ) : null}
      <FormError text={error} />
      <p role="status">{status}</p>
    </section>
  );
}
