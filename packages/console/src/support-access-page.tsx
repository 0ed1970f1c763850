import type { SupportGrant, SupportGrantAccess, SupportGrantApproval, SupportScope } from '@parley/client';
import { type SyntheticEvent, useState } from 'react';
import { complianceOf, useLoad, when } from './compliance-load.ts';
import type { PageProps } from './console-page.ts';
import { errorText } from './error-text.ts';
import { fieldOf } from './form-field.ts';
import { FormError } from './form-error.tsx';

/** The scopes an approval may narrow a request to: the one asked for, or less. */
const NARROWER: Readonly<Record<SupportScope, readonly SupportScope[]>> = {
  user_admin: ['user_admin', 'metadata'],
  metadata: ['metadata'],
  messages: ['messages'],
};
const SCOPE_TEXT: Readonly<Record<SupportScope, string>> = {
  metadata: 'account metadata, read-only',
  user_admin: 'user administration (deactivate, reactivate)',
  messages: 'history of the named dialogs, read-only',
};

/**
 * Operator support access: whether staff may ask at all, the requests to approve (as asked or narrower) or
 * refuse, grants to revoke, and every request staff made under each grant.
 */
export function SupportAccessPage({ client }: PageProps) {
  const compliance = complianceOf(client);
  const grants = useLoad(() => compliance.supportGrants());
  return (
    <main>
      <h1>Support access</h1>
      <SupportPolicy
        load={() => compliance.supportAllowed()}
        save={(allowed) => compliance.setSupportAllowed(allowed)}
      />
      <section aria-labelledby="grants-title">
        <div className="row">
          <h2 id="grants-title">Requests and grants</h2>
          <button type="button" className="link" onClick={grants.reload}>
            Refresh
          </button>
        </div>
        <FormError text={grants.error} />
        {grants.data === undefined ? (
          <p className="muted">{grants.loading ? 'Loading…' : ''}</p>
        ) : grants.data.length === 0 ? (
          <p>No operator has asked for access.</p>
        ) : (
          <ul className="cards">
            {grants.data.map((grant) => (
              <GrantCard key={grant.id} grant={grant} compliance={compliance} onChanged={grants.reload} />
            ))}
          </ul>
        )}
      </section>
    </main>
  );
}

function SupportPolicy({
  load,
  save,
}: {
  load: () => Promise<boolean>;
  save: (allowed: boolean) => Promise<boolean>;
}) {
  const policy = useLoad(load);
  const [confirming, setConfirming] = useState(false);
  const [message, setMessage] = useState<string>();
  const set = (allowed: boolean) => {
    setMessage(undefined);
    save(allowed)
      .then(() => {
        setConfirming(false);
        policy.reload();
      })
      .catch((caught: unknown) => {
        setMessage(errorText(caught));
      });
  };
  const allowed = policy.data;
  return (
    <section className="card" aria-labelledby="policy-title">
      <h2 id="policy-title">Tenant policy</h2>
      <p role="status">
        {allowed === undefined
          ? policy.loading
            ? 'Loading…'
            : ''
          : allowed
            ? 'Operator staff may ask this tenant for support access; each request waits for your approval.'
            : 'Support access is forbidden: staff cannot ask, and every grant stops working on its next request.'}
      </p>
      <FormError text={message ?? policy.error} />
      {allowed === true && !confirming ? (
        <button
          type="button"
          className="danger"
          onClick={() => {
            setConfirming(true);
          }}
        >
          Forbid support access
        </button>
      ) : null}
      {allowed === true && confirming ? (
        <span role="group" aria-label="Confirm forbidding support access" className="actions">
          <button
            type="button"
            className="danger"
            autoFocus
            onClick={() => {
              set(false);
            }}
          >
            Confirm: forbid support access
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
      ) : null}
      {allowed === false ? (
        <button
          type="button"
          onClick={() => {
            set(true);
          }}
        >
          Allow support access requests
        </button>
      ) : null}
    </section>
  );
}

type Compliance = ReturnType<typeof complianceOf>;
type Pending = 'approve' | 'refuse' | 'revoke' | undefined;

function GrantCard({
  grant,
  compliance,
  onChanged,
}: {
  grant: SupportGrant;
  compliance: Compliance;
  onChanged: () => void;
}) {
  const [pending, setPending] = useState<Pending>();
  const [message, setMessage] = useState<string>();
  const [accesses, setAccesses] = useState<SupportGrantAccess[]>();
  const label = `request of ${when(grant.requestedAt)} by staff ${grant.staffId}`;
  const run = (work: Promise<unknown>) => {
    setMessage(undefined);
    work
      .then(() => {
        setPending(undefined);
        onChanged();
      })
      .catch((caught: unknown) => {
        setMessage(errorText(caught));
      });
  };
  const approve = (event: SyntheticEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = event.currentTarget;
    const approval: SupportGrantApproval = {};
    const scope = NARROWER[grant.scope].find((entry) => entry === fieldOf(form, 'scope'));
    if (scope && scope !== grant.scope) approval.scope = scope;
    const hours = Number(fieldOf(form, 'hours'));
    if (Number.isInteger(hours) && hours > 0 && hours !== grant.durationHours) approval.durationHours = hours;
    if (grant.dialogIds) {
      const chosen = new FormData(form).getAll('dialog').filter((value) => typeof value === 'string');
      if (chosen.length !== grant.dialogIds.length) approval.dialogIds = chosen;
    }
    run(compliance.approveSupportGrant(grant.id, approval));
  };
  const showAccesses = () => {
    compliance
      .supportGrantAccesses(grant.id)
      .then(setAccesses)
      .catch((caught: unknown) => {
        setMessage(errorText(caught));
      });
  };
  const expired = grant.expiresAt !== null && Date.parse(grant.expiresAt) <= Date.now();
  const status = grant.status === 'approved' && expired ? 'expired' : grant.status;
  return (
    <li className="card grant" aria-label={`Support ${label}`}>
      <div className="row">
        <strong>{SCOPE_TEXT[grant.scope]}</strong>
        <span className={`badge ${status}`}>{status}</span>
      </div>
      <dl className="facts">
        <dt>Reason</dt>
        <dd className="reason">{grant.reason}</dd>
        <dt>Asked by</dt>
        <dd>staff {grant.staffId}</dd>
        <dt>Asked</dt>
        <dd>
          {when(grant.requestedAt)}, for {grant.durationHours} h
        </dd>
        {grant.dialogIds ? (
          <>
            <dt>Dialogs</dt>
            <dd>{grant.dialogIds.join(', ')}</dd>
          </>
        ) : null}
        {grant.decidedAt ? (
          <>
            <dt>Decided</dt>
            <dd>
              {when(grant.decidedAt)}
              {grant.decidedBy ? ` by ${grant.decidedBy}` : ''}
            </dd>
          </>
        ) : null}
        {grant.expiresAt ? (
          <>
            <dt>{grant.revokedAt ? 'Revoked' : 'Ends'}</dt>
            <dd>{when(grant.revokedAt ?? grant.expiresAt)}</dd>
          </>
        ) : null}
      </dl>
      {grant.status === 'pending' && pending === 'approve' ? (
        <form onSubmit={approve} className="inline" aria-label="Approve this request">
          <label>
            Scope
            <select name="scope" defaultValue={grant.scope}>
              {NARROWER[grant.scope].map((scope) => (
                <option key={scope} value={scope}>
                  {scope.replaceAll('_', ' ')}
                </option>
              ))}
            </select>
          </label>
          <label>
            Hours
            <input
              name="hours"
              type="number"
              min={1}
              max={grant.durationHours}
              defaultValue={grant.durationHours}
            />
          </label>
          {grant.dialogIds ? (
            <fieldset>
              <legend>Dialogs</legend>
              {grant.dialogIds.map((dialogId) => (
                <label key={dialogId} className="check">
                  <input type="checkbox" name="dialog" value={dialogId} defaultChecked />
                  {dialogId}
                </label>
              ))}
            </fieldset>
          ) : null}
          <button type="submit">Confirm approval</button>
          <button
            type="button"
            onClick={() => {
              setPending(undefined);
            }}
          >
            Cancel
          </button>
        </form>
      ) : pending === 'refuse' || pending === 'revoke' ? (
        <span role="group" aria-label="Confirm" className="actions">
          <button
            type="button"
            className="danger"
            autoFocus
            onClick={() => {
              run(
                pending === 'refuse'
                  ? compliance.refuseSupportGrant(grant.id)
                  : compliance.revokeSupportGrant(grant.id),
              );
            }}
          >
            {pending === 'refuse' ? 'Confirm: refuse' : 'Confirm: revoke now'}
          </button>
          <button
            type="button"
            onClick={() => {
              setPending(undefined);
            }}
          >
            Cancel
          </button>
        </span>
      ) : (
        <div className="actions">
          {grant.status === 'pending' ? (
            <>
              <button
                type="button"
                onClick={() => {
                  setPending('approve');
                }}
              >
                Approve…
              </button>
              <button
                type="button"
                className="danger"
                onClick={() => {
                  setPending('refuse');
                }}
              >
                Refuse
              </button>
            </>
          ) : null}
          {grant.status === 'approved' && !expired ? (
            <button
              type="button"
              className="danger"
              onClick={() => {
                setPending('revoke');
              }}
            >
              Revoke
            </button>
          ) : null}
          {grant.status === 'approved' || grant.status === 'revoked' ? (
            <button type="button" onClick={showAccesses}>
              What was accessed
            </button>
          ) : null}
        </div>
      )}
      <FormError text={message} />
      {accesses ? <AccessList accesses={accesses} /> : null}
    </li>
  );
}

function AccessList({ accesses }: { accesses: SupportGrantAccess[] }) {
  if (accesses.length === 0) return <p>Nothing was accessed under this grant.</p>;
  return (
    <table className="grid">
      <caption>Requests made under this grant</caption>
      <thead>
        <tr>
          <th scope="col">Time</th>
          <th scope="col">Request</th>
          <th scope="col">Outcome</th>
        </tr>
      </thead>
      <tbody>
        {accesses.map((access, index) => (
          <tr key={access.requestId ?? index}>
            <td data-label="Time">{when(access.occurredAt)}</td>
            <td data-label="Request">
              <code>
                {access.method} {access.path}
              </code>{' '}
              <span className="muted">({access.operation})</span>
            </td>
            <td data-label="Outcome" className={access.outcome === 'success' ? undefined : 'bad'}>
              {access.outcome}
              {access.refusal ? `: ${access.refusal}` : ''}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
