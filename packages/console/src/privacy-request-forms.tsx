import type { DataSubjectRequestBody, ParleyClient } from '@parley/client';
import type { DataSubjectRequestKind } from '@parley/protocol';
import { type SyntheticEvent, useState } from 'react';
import { isoOfLocal, when } from './compliance-load.ts';
import { extendPrivacyRequest, recordPrivacyRequest } from './compliance-requests-api.ts';
import { errorText } from './error-text.ts';
import { fieldOf } from './form-field.ts';
import { FormError } from './form-error.tsx';

const KINDS: readonly (readonly [DataSubjectRequestKind, string])[] = [
  ['access', 'Access: a copy of their data (Art. 15)'],
  ['export', 'Portability: their data in a machine-readable form (Art. 20)'],
  ['rectification', 'Rectification (Art. 16)'],
  ['erasure', 'Erasure (Art. 17)'],
  ['restriction', 'Restriction of processing (Art. 18)'],
  ['objection', 'Objection (Art. 21)'],
];

/** How a request reached the organisation; the API has no field for it, so it opens the note. */
const CHANNELS = ['post', 'e-mail', 'phone', 'in person'] as const;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DAY_MS = 86_400_000;

/** `datetime-local`'s value for a time, in the browser's local time. */
function localInput(time: Date): string {
  const local = new Date(time.getTime() - time.getTimezoneOffset() * 60_000);
  return local.toISOString().slice(0, 16);
}

/**
 * Records a data subject request received outside the API (a letter, a call): the subject by exact e-mail
 * address (when the role may look users up) or user id, the right exercised, when it arrived (its 30-day
 * deadline runs from then) and a note.
 */
export function RecordRequestForm({
  client,
  mayLookUpUsers,
  onRecorded,
}: {
  client: ParleyClient;
  mayLookUpUsers: boolean;
  onRecorded: (request: DataSubjectRequestBody) => void;
}) {
  const [message, setMessage] = useState<string>();
  const [busy, setBusy] = useState(false);
  const subjectOf = async (text: string): Promise<string | undefined> => {
    if (UUID.test(text) || !mayLookUpUsers) return text;
    const { users } = await client.request<{ users: { id: string }[] }>(
      'GET',
      `/v1/users?email=${encodeURIComponent(text)}`,
    );
    return users[0]?.id;
  };
  const submit = (event: SyntheticEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = event.currentTarget;
    const kind = KINDS.find(([entry]) => entry === fieldOf(form, 'kind'))?.[0] ?? 'access';
    const channel = fieldOf(form, 'channel');
    const words = fieldOf(form, 'note').trim();
    const note = channel ? `Received by ${channel}.${words ? ` ${words}` : ''}` : words || undefined;
    const receivedAt = isoOfLocal(fieldOf(form, 'receivedAt'));
    setBusy(true);
    setMessage(undefined);
    subjectOf(fieldOf(form, 'subject').trim())
      .then(async (subjectId) => {
        if (subjectId === undefined) {
          setMessage('No user has this e-mail address.');
          return;
        }
        const recorded = await recordPrivacyRequest(client, { subjectId, kind, receivedAt, note });
        form.reset();
        setMessage(`Recorded: due ${when(recorded.dueAt)}.`);
        onRecorded(recorded);
      })
      .catch((caught: unknown) => {
        setMessage(errorText(caught));
      })
      .finally(() => {
        setBusy(false);
      });
  };
  return (
    <details className="card">
      <summary>Record a request received by post, e-mail or phone</summary>
      <form onSubmit={submit} aria-label="Record a request">
        <label>
          {mayLookUpUsers ? 'Subject (exact e-mail address, or user id)' : 'Subject (user id)'}
          <input name="subject" required maxLength={320} autoComplete="off" />
        </label>
        <label>
          Right exercised
          <select name="kind" defaultValue="access">
            {KINDS.map(([kind, text]) => (
              <option key={kind} value={kind}>
                {text}
              </option>
            ))}
          </select>
        </label>
        <label>
          Received by
          <select name="channel" defaultValue="post">
            {CHANNELS.map((channel) => (
              <option key={channel} value={channel}>
                {channel}
              </option>
            ))}
          </select>
        </label>
        <label>
          Received on (the 30-day deadline runs from then)
          <input name="receivedAt" type="datetime-local" required defaultValue={localInput(new Date())} />
        </label>
        <label>
          Note (what the subject asks for)
          <textarea name="note" maxLength={1900} rows={2} />
        </label>
        <p role="status">{message ?? ''}</p>
        <button type="submit" disabled={busy}>
          {busy ? 'Recording…' : 'Record request'}
        </button>
      </form>
    </details>
  );
}

/**
 * Extends an open request's deadline (GDPR Art. 12(3): by up to two further months, here at most 90 days
 * after receipt), with the reason the subject will be told. The server refuses a deadline that does not move
 * later or goes past the limit.
 */
export function ExtendDeadlineForm({
  client,
  request,
  onExtended,
  onCancel,
}: {
  client: ParleyClient;
  request: DataSubjectRequestBody;
  onExtended: (request: DataSubjectRequestBody) => void;
  onCancel: () => void;
}) {
  const [message, setMessage] = useState<string>();
  const received = Date.parse(request.receivedAt);
  const submit = (event: SyntheticEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = event.currentTarget;
    const days = fieldOf(form, 'until') === '60' ? 60 : 90;
    setMessage(undefined);
    extendPrivacyRequest(client, request.id, {
      until: new Date(received + days * DAY_MS).toISOString(),
      reason: fieldOf(form, 'reason').trim(),
    })
      .then(onExtended)
      .catch((caught: unknown) => {
        setMessage(errorText(caught));
      });
  };
  return (
    <form onSubmit={submit} className="inline" aria-label="Extend the deadline">
      <label>
        New deadline
        <select name="until" defaultValue="90">
          <option value="60">{when(new Date(received + 60 * DAY_MS).toISOString())} (one more month)</option>
          <option value="90">
            {when(new Date(received + 90 * DAY_MS).toISOString())} (two more months, the most allowed)
          </option>
        </select>
      </label>
      <label>
        Reason the subject will be told
        <input name="reason" required maxLength={2000} />
      </label>
      <button type="submit">Extend deadline</button>
      <button type="button" onClick={onCancel}>
        Cancel
      </button>
      <FormError text={message} />
    </form>
  );
}
