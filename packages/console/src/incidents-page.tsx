import type { TenantIncident } from '@parley/client';
import { useState } from 'react';
import { complianceOf, useLoad, when } from './compliance-load.ts';
import type { PageProps } from './console-page.ts';
import { errorText } from './error-text.ts';
import { FormError } from './form-error.tsx';

/**
 * Incidents the operator declared that concern this tenant, with this tenant's share only (affected users, kinds
 * of record, when the tenant was notified), and the root cause analysis: ask for it, then read it.
 */
export function IncidentsPage({ client }: PageProps) {
  const compliance = complianceOf(client);
  const incidents = useLoad(() => compliance.incidents());
  return (
    <main>
      <h1>Incidents and notices</h1>
      <FormError text={incidents.error} />
      {incidents.data === undefined ? (
        <p className="muted">{incidents.loading ? 'Loading…' : ''}</p>
      ) : incidents.data.length === 0 ? (
        <p>No incident concerns this tenant.</p>
      ) : (
        <ul className="cards">
          {incidents.data.map((incident) => (
            <IncidentCard
              key={incident.id}
              incident={incident}
              compliance={compliance}
              onChanged={incidents.reload}
            />
          ))}
        </ul>
      )}
    </main>
  );
}

function IncidentCard({
  incident,
  compliance,
  onChanged,
}: {
  incident: TenantIncident;
  compliance: ReturnType<typeof complianceOf>;
  onChanged: () => void;
}) {
  const [rca, setRca] = useState<string>();
  const [message, setMessage] = useState<string>();
  const fail = (caught: unknown) => {
    setMessage(errorText(caught));
  };
  return (
    <li className="card" aria-label={`Incident ${incident.title}`}>
      <div className="row">
        <strong>{incident.title}</strong>
        <span className={`badge ${incident.severity}`}>
          {incident.severity}, {incident.status.replaceAll('_', ' ')}
        </span>
      </div>
      <dl className="facts">
        <dt>Operator aware</dt>
        <dd>{when(incident.awareAt)}</dd>
        <dt>Your users affected</dt>
        <dd>{incident.affectedUsers}</dd>
        <dt>Data</dt>
        <dd>{[...incident.dataCategories, ...incident.recordKinds].join(', ') || '—'}</dd>
        <dt>You were notified</dt>
        <dd>{when(incident.notifiedAt)}</dd>
      </dl>
      <div className="actions">
        {incident.rcaAvailable ? (
          <button
            type="button"
            onClick={() => {
              compliance
                .incidentRca(incident.id)
                .then((answer) => {
                  setRca(answer.text);
                })
                .catch(fail);
            }}
          >
            Read the root cause analysis
          </button>
        ) : incident.rcaRequestedAt ? (
          <span className="muted">Root cause analysis asked for {when(incident.rcaRequestedAt)}.</span>
        ) : (
          <button
            type="button"
            onClick={() => {
              compliance.requestIncidentRca(incident.id).then(onChanged).catch(fail);
            }}
          >
            Ask for the root cause analysis
          </button>
        )}
      </div>
      <FormError text={message} />
      {rca === undefined ? null : <pre className="rca">{rca}</pre>}
    </li>
  );
}
