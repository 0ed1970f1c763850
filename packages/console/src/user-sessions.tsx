import type { ParleyClient } from '@parley/client';
import { useCallback, useEffect, useState } from 'react';
import { errorText } from './error-text.ts';
import { type SessionSummary, SessionsTable } from './sessions-table.tsx';

/** A user's signed-in devices (`GET /v1/users/{id}/sessions`), each revocable by an admin. */
export function UserSessions({
  client,
  userId,
  name,
}: {
  client: ParleyClient;
  userId: string;
  name: string;
}) {
  const [sessions, setSessions] = useState<SessionSummary[]>();
  const [message, setMessage] = useState<string>();
  const path = `/v1/users/${encodeURIComponent(userId)}/sessions`;
  const load = useCallback(() => {
    client
      .request<{ sessions: SessionSummary[] }>('GET', path)
      .then((answer) => {
        setSessions(answer.sessions);
      })
      .catch((caught: unknown) => {
        setMessage(errorText(caught));
      });
  }, [client, path]);
  useEffect(load, [load]);
  return (
    <section aria-label={`Sessions of ${name}`} className="sub">
      <h3>Sessions of {name}</h3>
      {sessions ? (
        <SessionsTable
          caption={`Sessions of ${name}`}
          sessions={sessions}
          onRevoke={(session) => {
            client
              .request('DELETE', `${path}/${encodeURIComponent(session.id)}`)
              .then(() => {
                setMessage('Session revoked: that device is signed out.');
                load();
              })
              .catch((caught: unknown) => {
                setMessage(errorText(caught));
              });
          }}
        />
      ) : (
        <p>Loading…</p>
      )}
      <p role="status">{message ?? ''}</p>
    </section>
  );
}
