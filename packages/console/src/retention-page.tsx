import type { RetentionRulesBody } from '@parley/client';
import { type SyntheticEvent, useState } from 'react';
import { complianceOf, useLoad } from './compliance-load.ts';
import type { PageProps } from './console-page.ts';
import { errorText } from './error-text.ts';
import { fieldOf } from './form-field.ts';
import { FormError } from './form-error.tsx';
import { DialogRetentionSection } from './dialog-retention-section.tsx';

/** The rules a period may be left empty for (kept without limit). */
const DURATIONS = [
  ['messages', 'Messages (and their edits, reactions, deletions)'],
  ['attachments', 'Attachments'],
  ['callRecords', 'Call records'],
  ['searchEntries', 'Search entries (empty: as long as their message)'],
  ['sessions', 'Ended sessions'],
  ['mailOutbox', 'Mail outbox'],
  ['exportArchives', 'Finished data exports'],
  ['auditMaximum', 'Audit entries, at most'],
] as const;

/**
 * The tenant's retention rules: how long each kind of data is kept (`30m`, `12h`, `90d`; empty keeps it
 * without limit), the audit log's legal minimum, and when IP addresses are truncated. The server validates the
 * rules as a whole. Below, one dialog's overrides of them.
 */
export function RetentionPage({ client, permissions }: PageProps) {
  const compliance = complianceOf(client);
  const rules = useLoad(() => compliance.retentionRules());
  const [message, setMessage] = useState<string>();
  const [busy, setBusy] = useState(false);
  const save = (event: SyntheticEvent<HTMLFormElement>) => {
    event.preventDefault();
    const current = rules.data;
    if (!current) return;
    const form = event.currentTarget;
    const change: Partial<RetentionRulesBody> = {};
    for (const [key] of DURATIONS) {
      const value = fieldOf(form, key).trim() || null;
      if (value !== current[key]) change[key] = value;
    }
    const minimum = fieldOf(form, 'auditMinimum').trim();
    if (minimum !== current.auditMinimum) change.auditMinimum = minimum;
    const preset = fieldOf(form, 'auditPreset') === 'hipaa' ? 'hipaa' : 'none';
    if (preset !== current.auditPreset) change.auditPreset = preset;
    const days = Number(fieldOf(form, 'ipMinimisationDays'));
    if (days !== current.ipMinimisationDays) change.ipMinimisationDays = days;
    setBusy(true);
    setMessage(undefined);
    compliance
      .updateRetentionRules(change)
      .then(() => {
        setMessage(Object.keys(change).length === 0 ? 'Nothing changed.' : 'Rules saved.');
        rules.reload();
      })
      .catch((caught: unknown) => {
        setMessage(errorText(caught));
      })
      .finally(() => {
        setBusy(false);
      });
  };
  const current = rules.data;
  return (
    <main>
      <h1>Retention rules</h1>
      <FormError text={rules.error} />
      {current === undefined ? (
        <p className="muted">{rules.loading ? 'Loading…' : ''}</p>
      ) : (
        // Keyed by the rules, so the fields show what the server answered after a save.
        <form
          key={JSON.stringify(current)}
          onSubmit={save}
          className="card rules"
          aria-label="Retention rules"
        >
          <p className="muted">
            A period is a whole number of minutes, hours or days: <code>30m</code>, <code>12h</code>,{' '}
            <code>90d</code>. Empty keeps that data without limit. Data under a legal hold is kept regardless.
          </p>
          {DURATIONS.map(([key, text]) => (
            <label key={key}>
              {text}
              <input name={key} defaultValue={current[key] ?? ''} pattern="[1-9][0-9]{0,6}[mhd]" />
            </label>
          ))}
          <label>
            Audit entries, at least (legal minimum)
            <input
              name="auditMinimum"
              defaultValue={current.auditMinimum}
              required
              pattern="[1-9][0-9]{0,6}[mhd]"
            />
          </label>
          <label>
            Audit preset
            <select name="auditPreset" defaultValue={current.auditPreset}>
              <option value="none">none</option>
              <option value="hipaa">HIPAA (at least six years)</option>
            </select>
          </label>
          <label>
            Truncate IP addresses after (days)
            <input
              name="ipMinimisationDays"
              type="number"
              min={1}
              max={3650}
              defaultValue={current.ipMinimisationDays}
            />
          </label>
          <p role="status">{message ?? ''}</p>
          <button type="submit" disabled={busy}>
            {busy ? 'Saving…' : 'Save rules'}
          </button>
        </form>
      )}
      {permissions.has('retention.manage') ? (
        <DialogRetentionSection client={client} tenant={current} />
      ) : null}
    </main>
  );
}
