import type { presentPublicIncident } from './incident-presenter.ts';

type PublicIncident = ReturnType<typeof presentPublicIncident>;

const escapeXml = (text: string) =>
  text.replace(
    /[<>&'"]/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] ?? c,
  );

/** The public incident feed as Atom 1.0 (RFC 4287): one entry per general incident, the same fields as JSON. */
export function incidentFeedAtom(incidents: PublicIncident[], feedUrl: string, now: number): string {
  const updated = incidents.reduce(
    (latest, incident) => (incident.updatedAt > latest ? incident.updatedAt : latest),
    new Date(now).toISOString(),
  );
  const entries = incidents.map(
    (incident) => `  <entry>
    <id>urn:uuid:${escapeXml(incident.id)}</id>
    <title>${escapeXml(incident.title)}</title>
    <published>${incident.startedAt}</published>
    <updated>${incident.updatedAt}</updated>
    <category term="${escapeXml(incident.severity)}" label="severity"/>
    <category term="${escapeXml(incident.status)}" label="status"/>
    <summary>${escapeXml(incident.summary)}</summary>
  </entry>`,
  );
  return `<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <id>${escapeXml(feedUrl)}</id>
  <title>Incidents</title>
  <updated>${updated}</updated>
  <link rel="self" href="${escapeXml(feedUrl)}"/>
${entries.join('\n')}
</feed>
`;
}
