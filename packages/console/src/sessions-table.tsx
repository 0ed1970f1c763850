import { ConfirmButton } from './confirm-button.tsx';

/** A signed-in device as `GET /v1/me/sessions` and `GET /v1/users/{id}/sessions` list it. */
export interface SessionSummary {
  id: string;
  current?: boolean;
  clientId: string | null;
  device: string | null;
  scopes: string[];
  createdAt: string;
  lastUsedAt: string;
}

/** Short, readable device name from a user agent (the full string is the cell's title). */
function deviceName(session: SessionSummary): string {
  const short = session.id.slice(0, 8);
  if (session.device === null)
    return session.clientId === null ? `Unknown device (${short})` : `Client ${session.clientId}`;
  const browser = /(Firefox|Edg|Chrome|Safari|curl|node)[/ ]?[\d.]*/i.exec(session.device)?.[1];
  return `${browser === undefined ? session.device.slice(0, 40) : browser === 'Edg' ? 'Edge' : browser} (${short})`;
}

const when = (iso: string) => new Date(iso).toLocaleString();

interface SessionsTableProps {
  caption: string;
  sessions: readonly SessionSummary[];
  /** Absent: the sessions are shown without a revoke button. */
  onRevoke?: (session: SessionSummary) => void;
}

/** Sessions as a table (cards at phone width), each with a revoke button that asks to confirm. */
export function SessionsTable({ caption, sessions, onRevoke }: SessionsTableProps) {
  if (sessions.length === 0) return <p>No active session.</p>;
  return (
    <table className="users">
      <caption className="sr-only">{caption}</caption>
      <thead>
        <tr>
          <th scope="col">Device</th>
          <th scope="col">Scopes</th>
          <th scope="col">Signed in</th>
          <th scope="col">Last used</th>
          {onRevoke ? <th scope="col">Actions</th> : null}
        </tr>
      </thead>
      <tbody>
        {sessions.map((session) => {
          const name = deviceName(session);
          return (
            <tr key={session.id}>
              <td data-label="Device" title={session.device ?? undefined}>
                {name}
                {session.current ? ' — this session' : ''}
              </td>
              <td data-label="Scopes">{session.scopes.join(' ')}</td>
              <td data-label="Signed in">{when(session.createdAt)}</td>
              <td data-label="Last used">{when(session.lastUsedAt)}</td>
              {onRevoke ? (
                <td data-label="Actions">
                  {session.current ? (
                    '—'
                  ) : (
                    <ConfirmButton
                      label="Revoke"
                      name={`Revoke session ${name}`}
                      confirm={`Confirm: revoke ${name}`}
                      onConfirm={() => {
                        onRevoke(session);
                      }}
                    />
                  )}
                </td>
              ) : null}
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
