import type { ComplianceControl, SignedComplianceReport } from '@parley/client';
import { useState } from 'react';
import { complianceOf, when } from './compliance-load.ts';
import type { PageProps } from './console-page.ts';
import { errorText } from './error-text.ts';
import { FormError } from './form-error.tsx';

const STATUS_TEXT: Readonly<Record<ComplianceControl['status'], string>> = {
  met: 'met',
  attention: 'needs attention',
  not_met: 'not met',
};

/** Saves `blob` as a file the browser downloads (the report needs the token, so no plain link can fetch it). */
function save(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  link.click();
  setTimeout(() => {
    URL.revokeObjectURL(url);
  }, 60_000);
}

/**
 * The compliance evidence report: every control computed from live state when asked for, signed by the
 * installation's audit key. Shown here; downloadable as signed JSON or as HTML that prints well.
 */
export function ComplianceReportPage({ client }: PageProps) {
  const compliance = complianceOf(client);
  const [signed, setSigned] = useState<SignedComplianceReport>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState<string>();
  const run = (label: string, work: () => Promise<void>) => {
    setBusy(label);
    setError(undefined);
    work()
      .catch((caught: unknown) => {
        setError(errorText(caught));
      })
      .finally(() => {
        setBusy(undefined);
      });
  };
  const report = signed?.report;
  return (
    <main>
      <h1>Compliance evidence report</h1>
      <p>
        Each report is computed from the live state of this tenant and the installation, signed with the audit
        key, and recorded in the audit log.
      </p>
      <div className="actions">
        <button
          type="button"
          disabled={busy !== undefined}
          aria-busy={busy === 'issue'}
          onClick={() => {
            run('issue', async () => {
              setSigned(await compliance.complianceReport());
            });
          }}
        >
          {busy === 'issue' ? 'Computing…' : report ? 'Compute again' : 'Compute the report'}
        </button>
        {signed ? (
          <button
            type="button"
            disabled={busy !== undefined}
            onClick={() => {
              save(
                new Blob([JSON.stringify(signed, null, 2)], { type: 'application/json' }),
                `compliance-report-${signed.report.reportId}.json`,
              );
            }}
          >
            Download signed JSON
          </button>
        ) : null}
        <button
          type="button"
          disabled={busy !== undefined}
          aria-busy={busy === 'html'}
          onClick={() => {
            run('html', async () => {
              save(await compliance.complianceReportHtml(), 'compliance-report.html');
            });
          }}
        >
          {busy === 'html' ? 'Preparing…' : 'Download printable HTML'}
        </button>
      </div>
      <FormError text={error} />
      {report ? (
        <section aria-labelledby="report-title">
          <h2 id="report-title">
            {report.tenant ? report.tenant.name : 'Installation'}: {STATUS_TEXT[report.overall]}
          </h2>
          <p role="status" className={`verdict ${report.overall === 'met' ? 'good' : 'broken'}`}>
            {report.counts.met} met, {report.counts.attention} needing attention, {report.counts.not_met} not
            met. Generated {when(report.generatedAt)}, report {report.reportId}, signed by key {signed.keyId}.
          </p>
          <table className="grid">
            <caption className="sr-only">Controls</caption>
            <thead>
              <tr>
                <th scope="col">Control</th>
                <th scope="col">Status</th>
                <th scope="col">HIPAA</th>
                <th scope="col">GDPR</th>
                <th scope="col">Findings and evidence</th>
              </tr>
            </thead>
            <tbody>
              {report.controls.map((control) => (
                <tr key={control.id}>
                  <td data-label="Control">
                    <strong>{control.title}</strong>
                    <br />
                    <span className="muted">{control.promise}</span>
                  </td>
                  <td data-label="Status" className={control.status === 'met' ? undefined : 'bad'}>
                    {STATUS_TEXT[control.status]}
                  </td>
                  <td data-label="HIPAA">{control.hipaa.join(', ') || '—'}</td>
                  <td data-label="GDPR">{control.gdpr.join(', ') || '—'}</td>
                  <td data-label="Findings and evidence">
                    {control.findings.length > 0 ? (
                      <ul>
                        {control.findings.map((finding) => (
                          <li key={finding}>{finding}</li>
                        ))}
                      </ul>
                    ) : null}
                    <details>
                      <summary>Evidence</summary>
                      <code className="details">{JSON.stringify(control.evidence, null, 1)}</code>
                    </details>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      ) : null}
    </main>
  );
}
