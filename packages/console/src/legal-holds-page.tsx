import type { LegalHoldView } from '@parley/client';
import { type SyntheticEvent, useState } from 'react';
import { complianceOf, isoOfLocal, useLoad, when } from './compliance-load.ts';
import type { PageProps } from './console-page.ts';
import { errorText } from './error-text.ts';
import { fieldOf } from './form-field.ts';
import { FormError } from './form-error.tsx';

/** Legal holds keep a user's, a dialog's or the whole tenant's data past retention and erasure until released. */
export function LegalHoldsPage({ client }: PageProps) {
  const compliance = complianceOf(client);
  const holds = useLoad(() => compliance.legalHolds());
  const [error, setError] = useState<string>();
  const place = (event: SyntheticEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = event.currentTarget;
    const targetType = fieldOf(form, 'targetType');
    const target = targetType === 'user' || targetType === 'dialog' ? targetType : 'tenant';
    const endsAt = isoOfLocal(fieldOf(form, 'endsAt'));
    setError(undefined);
    compliance
      .placeLegalHold({
        targetType: target,
        ...(target === 'tenant' ? {} : { targetId: fieldOf(form, 'targetId').trim() }),
        reason: fieldOf(form, 'reason').trim(),
        ...(endsAt ? { endsAt } : {}),
      })
      .then(() => {
        form.reset();
        holds.reload();
      })
      .catch((caught: unknown) => {
        setError(errorText(caught));
      });
  };
  return (
    <main>
      <h1>Legal holds</h1>
      <div className="columns">
        <form onSubmit={place} className="card" aria-labelledby="place-hold-title">
          <h2 id="place-hold-title">Place a hold</h2>
          <label>
            On
            <select name="targetType" defaultValue="user">
              <option value="user">a user</option>
              <option value="dialog">a dialog</option>
              <option value="tenant">the whole tenant</option>
            </select>
          </label>
          <label>
            User or dialog id (not for the whole tenant)
            <input name="targetId" maxLength={36} />
          </label>
          <label>
            Reason
            <input name="reason" required maxLength={2000} />
          </label>
          <label>
            Ends (optional: until released)
            <input name="endsAt" type="datetime-local" />
          </label>
          <FormError text={error} />
          <button type="submit">Place hold</button>
        </form>
      </div>
      <FormError text={holds.error} />
      {holds.data === undefined ? (
        <p className="muted">{holds.loading ? 'Loading…' : ''}</p>
      ) : holds.data.length === 0 ? (
        <p>No legal hold.</p>
      ) : (
        <table className="grid">
          <caption className="sr-only">Legal holds, newest first</caption>
          <thead>
            <tr>
              <th scope="col">On</th>
              <th scope="col">Reason</th>
              <th scope="col">Placed</th>
              <th scope="col">Ends</th>
              <th scope="col">State</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {holds.data.map((hold) => (
              <HoldRow
                key={hold.id}
                hold={hold}
                release={() => compliance.releaseLegalHold(hold.id)}
                onChanged={holds.reload}
              />
            ))}
          </tbody>
        </table>
      )}
    </main>
  );
}

function HoldRow({
  hold,
  release,
  onChanged,
}: {
  hold: LegalHoldView;
  release: () => Promise<unknown>;
  onChanged: () => void;
}) {
  const [confirming, setConfirming] = useState(false);
  const [message, setMessage] = useState<string>();
  return (
    <tr>
      <td data-label="On">
        {hold.targetType} {hold.targetType === 'tenant' ? '' : <code>{hold.targetId}</code>}
      </td>
      <td data-label="Reason">{hold.reason}</td>
      <td data-label="Placed">
        {when(hold.placedAt)} <span className="muted">by {hold.placedBy}</span>
      </td>
      <td data-label="Ends">{hold.releasedAt ? `released ${when(hold.releasedAt)}` : when(hold.endsAt)}</td>
      <td data-label="State">{hold.active ? 'in force' : 'ended'}</td>
      <td data-label="Actions">
        {hold.active && confirming ? (
          <span role="group" aria-label="Confirm release" className="actions">
            <button
              type="button"
              className="danger"
              autoFocus
              onClick={() => {
                release()
                  .then(onChanged)
                  .catch((caught: unknown) => {
                    setMessage(errorText(caught));
                  });
              }}
            >
              Confirm: release
            </button>
            <button
              type="button"
              onClick={() => {
                setConfirming(false);
              }}
            >
              Cancel
            </button>
          </span>
        ) : hold.active ? (
          <button
            type="button"
            onClick={() => {
              setConfirming(true);
            }}
          >
            Release…
          </button>
        ) : null}
        <FormError text={message} />
      </td>
    </tr>
  );
}
