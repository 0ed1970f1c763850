import type { DataSubjectRequestBody, ParleyClient } from '@parley/client';
import { type SyntheticEvent, useState } from 'react';
import { complianceOf, useLoad, when } from './compliance-load.ts';
import type { PageProps } from './console-page.ts';
import { errorText } from './error-text.ts';
import { fieldOf } from './form-field.ts';
import { FormError } from './form-error.tsx';
import { ExtendDeadlineForm, RecordRequestForm } from './privacy-request-forms.tsx';

type Status = 'open' | 'closed' | 'all';
const CLOSING = ['completed', 'refused', 'cancelled'] as const;

/**
 * Data subject requests (GDPR Art. 12–22): open ones soonest deadline first, as the server orders them, the
 * overdue ones marked; record one received by post or phone; start work on one, extend its deadline, or close
 * it with an outcome the subject will read.
 */
export function PrivacyRequestsPage({ client, permissions }: PageProps) {
  const manage = permissions.has('privacy.requests.manage');
  const compliance = complianceOf(client);
  const [status, setStatus] = useState<Status>('open');
  const list = useLoad(() => compliance.privacyRequests({ status, limit: 200 }));
  const requests = list.data?.requests;
  const overdue = requests?.filter((request) => request.overdue).length ?? 0;
  return (
    <main>
      <h1>Data subject requests</h1>
      {manage ? (
        <RecordRequestForm
          client={client}
          mayLookUpUsers={permissions.has('users.read')}
          onRecorded={list.reload}
        />
      ) : null}
      <div className="row wrap">
        <label className="inline-label">
          Show
          <select
            value={status}
            onChange={(event) => {
              const next = event.currentTarget.value;
              setStatus(next === 'closed' || next === 'all' ? next : 'open');
              list.reload(); // batched with the filter: the next load uses it
            }}
          >
            <option value="open">open, soonest deadline first</option>
            <option value="closed">closed, newest first</option>
            <option value="all">all</option>
          </select>
        </label>
        {overdue > 0 ? (
          <p className="verdict broken" role="status">
            {overdue} overdue
          </p>
        ) : null}
      </div>
      <FormError text={list.error} />
      {requests === undefined ? (
        <p className="muted">{list.loading ? 'Loading…' : ''}</p>
      ) : requests.length === 0 ? (
        <p>No request.</p>
      ) : (
        <table className="grid">
          <caption className="sr-only">Data subject requests</caption>
          <thead>
            <tr>
              <th scope="col">Due</th>
              <th scope="col">Kind</th>
              <th scope="col">Subject</th>
              <th scope="col">Status</th>
              <th scope="col">Received</th>
              <th scope="col">Note</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {requests.map((request) => (
              <RequestRow
                key={request.id}
                request={request}
                client={client}
                manage={manage}
                compliance={compliance}
                onChanged={list.reload}
              />
            ))}
          </tbody>
        </table>
      )}
      {list.data?.nextCursor ? <p className="muted">Showing the first 200.</p> : null}
    </main>
  );
}

function RequestRow({
  request,
  client,
  manage,
  compliance,
  onChanged,
}: {
  request: DataSubjectRequestBody;
  client: ParleyClient;
  manage: boolean;
  compliance: ReturnType<typeof complianceOf>;
  onChanged: () => void;
}) {
  const [closing, setClosing] = useState(false);
  const [extending, setExtending] = useState(false);
  const [message, setMessage] = useState<string>();
  const [extended, setExtended] = useState<string>();
  const open = request.status === 'received' || request.status === 'in_progress';
  const run = (work: Promise<unknown>) => {
    setMessage(undefined);
    work
      .then(() => {
        setClosing(false);
        onChanged();
      })
      .catch((caught: unknown) => {
        setMessage(errorText(caught));
      });
  };
  const close = (event: SyntheticEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = event.currentTarget;
    const status = CLOSING.find((entry) => entry === fieldOf(form, 'status')) ?? 'completed';
    run(compliance.updatePrivacyRequest(request.id, { status, outcome: fieldOf(form, 'outcome').trim() }));
  };
  return (
    <tr className={request.overdue ? 'overdue' : undefined}>
      <td data-label="Due">
        {when(request.dueAt)}
        {request.overdue ? <strong className="badge refused"> overdue</strong> : null}
        {request.extendedUntil ? <span className="muted"> (extended: {request.extensionReason})</span> : null}
      </td>
      <td data-label="Kind">{request.kind}</td>
      <td data-label="Subject">
        <code>{request.subjectId}</code>
      </td>
      <td data-label="Status">{request.status.replaceAll('_', ' ')}</td>
      <td data-label="Received">
        {when(request.receivedAt)} <span className="muted">({request.source})</span>
      </td>
      <td data-label="Note">{request.outcome ?? request.note ?? '—'}</td>
      <td data-label="Actions">
        {extending ? (
          <ExtendDeadlineForm
            client={client}
            request={request}
            onExtended={(answer) => {
              setExtending(false);
              setExtended(`Deadline extended to ${when(answer.dueAt)}.`);
              onChanged();
            }}
            onCancel={() => {
              setExtending(false);
            }}
          />
        ) : closing ? (
          <form onSubmit={close} className="inline">
            <label>
              Close as
              <select name="status" defaultValue="completed">
                {CLOSING.map((status) => (
                  <option key={status} value={status}>
                    {status}
                  </option>
                ))}
              </select>
            </label>
            <label>
              Outcome for the subject
              <input name="outcome" required maxLength={2000} autoFocus />
            </label>
            <button type="submit">Close request</button>
            <button
              type="button"
              onClick={() => {
                setClosing(false);
              }}
            >
              Cancel
            </button>
          </form>
        ) : open ? (
          <div className="actions">
            {request.status === 'received' ? (
              <button
                type="button"
                onClick={() => {
                  run(compliance.updatePrivacyRequest(request.id, { status: 'in_progress' }));
                }}
              >
                Start work
              </button>
            ) : null}
            <button
              type="button"
              onClick={() => {
                setClosing(true);
              }}
            >
              Close…
            </button>
            {manage ? (
              <button
                type="button"
                onClick={() => {
                  setExtended(undefined);
                  setExtending(true);
                }}
              >
                Extend deadline…
              </button>
            ) : null}
          </div>
        ) : null}
        {extended ? <p role="status">{extended}</p> : null}
        <FormError text={message} />
      </td>
    </tr>
  );
}
