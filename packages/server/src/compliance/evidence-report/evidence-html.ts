import type { ComplianceControl, EvidenceValue, SignedComplianceReport } from '@parley/protocol';

/**
 * The evidence report as a page a person reads and prints (PDF through the browser's print dialog). No
 * script, no external resource (the page's own CSP forbids both), every value escaped. The signed JSON is
 * embedded, escaped, in `<pre id="parley-signed-report">`, so the HTML file itself can be verified.
 */
export function renderReportHtml(signed: SignedComplianceReport): string {
  const { report } = signed;
  const subject = report.tenant
    ? `${escapeHtml(report.tenant.name)} <span class="muted">(tenant ${escapeHtml(report.tenant.id)})</span>`
    : 'Installation-wide (installation controls only)';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Compliance evidence report — ${report.tenant ? escapeHtml(report.tenant.name) : 'installation'}</title>
<style>${css}</style>
</head>
<body>
<header>
<h1>Compliance evidence report</h1>
<p class="subject">${subject}</p>
<dl class="meta">
<dt>Generated</dt><dd>${escapeHtml(report.generatedAt)}</dd>
<dt>Report id</dt><dd><code>${escapeHtml(report.reportId)}</code></dd>
<dt>Requested by</dt><dd>${escapeHtml(report.requestedBy)}</dd>
<dt>Parley version</dt><dd>${escapeHtml(report.installation.version)}</dd>
<dt>Overall</dt><dd>${badge(report.overall)} — ${report.counts.met} met, ${report.counts.attention} attention, ${report.counts.not_met} not met</dd>
</dl>
<p class="note">Every status was computed from the live state of the installation at the time above. HIPAA items are sections of 45 CFR Part 164 (Security Rule); GDPR items are articles of Regulation (EU) 2016/679.</p>
</header>
<main>
<h2>Summary</h2>
<table class="summary">
<thead><tr><th>Control</th><th>Status</th><th>HIPAA</th><th>GDPR</th></tr></thead>
<tbody>
${report.controls.map(summaryRow).join('\n')}
</tbody>
</table>
${report.controls.map(controlSection).join('\n')}
<section class="signature">
<h2>Signature</h2>
<dl class="meta">
<dt>Algorithm</dt><dd>${escapeHtml(signed.algorithm)} over the canonical JSON of the report (keys sorted, no spaces)</dd>
<dt>Key id</dt><dd><code>${escapeHtml(signed.keyId)}</code> (the installation’s audit signing key)</dd>
<dt>Public key</dt><dd><code class="wrap">${escapeHtml(signed.publicKey)}</code> (DER SubjectPublicKeyInfo, base64)</dd>
<dt>Signature</dt><dd><code class="wrap">${escapeHtml(signed.signature)}</code></dd>
</dl>
<p>To check a copy, run <code>parley compliance verify &lt;this file&gt;</code> on the installation (it also confirms the key is its own audit key), or verify the Ed25519 signature above over the canonical JSON of <code>report</code> in the signed document below with any Ed25519 tool. Any change to the document makes the check fail.</p>
<details open><summary>Signed document (JSON)</summary>
<pre id="parley-signed-report">${escapeHtml(JSON.stringify(signed, null, 2))}</pre>
</details>
</section>
</main>
</body>
</html>
`;
}

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

/** The signed JSON embedded in a rendered report, or undefined when the page has none. */
export function signedJsonInHtml(html: string): string | undefined {
  const match = /<pre id="parley-signed-report">([^<]*)<\/pre>/.exec(html);
  if (!match?.[1]) return undefined;
  return match[1]
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&quot;', '"')
    .replaceAll('&#39;', "'")
    .replaceAll('&amp;', '&');
}

const statusText: Record<ComplianceControl['status'], string> = {
  met: 'Met',
  attention: 'Attention',
  not_met: 'Not met',
};

const badge = (status: ComplianceControl['status']) =>
  `<span class="badge ${status}">${statusText[status]}</span>`;

const anchorOf = (control: ComplianceControl) => `control-${escapeHtml(control.id)}`;

function summaryRow(control: ComplianceControl): string {
  return `<tr><td><a href="#${anchorOf(control)}">${escapeHtml(control.title)}</a></td><td>${badge(control.status)}</td><td>${control.hipaa.map(escapeHtml).join('<br>') || '—'}</td><td>${control.gdpr.map(escapeHtml).join(', ') || '—'}</td></tr>`;
}

function controlSection(control: ComplianceControl): string {
  const findings =
    control.findings.length === 0
      ? ''
      : `<ul class="findings">${control.findings.map((f) => `<li>${escapeHtml(f)}</li>`).join('')}</ul>`;
  return `<section class="control" id="${anchorOf(control)}">
<h2>${escapeHtml(control.title)} ${badge(control.status)}</h2>
<p class="promise">${escapeHtml(control.promise)}</p>
<p class="mapping"><strong>HIPAA:</strong> ${control.hipaa.map(escapeHtml).join('; ') || '—'}<br><strong>GDPR:</strong> ${control.gdpr.map(escapeHtml).join(', ') || '—'}<br><strong>Scope:</strong> ${control.scope === 'tenant' ? 'this tenant' : 'the installation'}</p>
${findings}
<h3>Evidence</h3>
${evidenceHtml(control.evidence)}
</section>`;
}

function evidenceHtml(value: EvidenceValue): string {
  if (value === null) return '<span class="muted">none</span>';
  if (typeof value === 'string') return escapeHtml(value);
  if (typeof value === 'number' || typeof value === 'boolean') return escapeHtml(String(value));
  if (Array.isArray(value)) {
    const items = value as readonly EvidenceValue[];
    if (items.length === 0) return '<span class="muted">none</span>';
    return `<ul>${items.map((item) => `<li>${evidenceHtml(item)}</li>`).join('')}</ul>`;
  }
  const entries = Object.entries(value as Record<string, EvidenceValue>);
  if (entries.length === 0) return '<span class="muted">none</span>';
  return `<table class="evidence">${entries
    .map(([key, item]) => `<tr><th>${escapeHtml(key)}</th><td>${evidenceHtml(item)}</td></tr>`)
    .join('')}</table>`;
}

const css = `
body { font: 11pt/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #111; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; }
h1 { font-size: 1.7rem; margin-bottom: .2rem; }
h2 { font-size: 1.25rem; margin-top: 2rem; border-bottom: 1px solid #ccc; padding-bottom: .2rem; }
h3 { font-size: 1rem; margin-bottom: .3rem; }
.subject { font-size: 1.15rem; margin-top: 0; }
.muted { color: #666; }
.note, .promise { color: #333; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
dl.meta dt { font-weight: 600; }
dl.meta dd { margin: 0; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: .25rem .5rem; border: 1px solid #ddd; }
table.evidence th { width: 28%; font-weight: 600; background: #fafafa; }
table.evidence table.evidence th { width: auto; }
ul { margin: .2rem 0; padding-left: 1.2rem; }
.badge { display: inline-block; padding: 0 .45rem; border-radius: .25rem; font-size: .85em; font-weight: 600; border: 1px solid; }
.badge.met { color: #135e2b; border-color: #135e2b; background: #e6f4ea; }
.badge.attention { color: #7a4b00; border-color: #7a4b00; background: #fff4dc; }
.badge.not_met { color: #8a1111; border-color: #8a1111; background: #fde8e8; }
.findings li { color: #5a2a00; }
code { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: .9em; }
.wrap, pre { white-space: pre-wrap; word-break: break-all; }
pre { background: #f6f6f6; padding: .5rem; font-size: .75rem; }
@media print {
  body { margin: 0; max-width: none; font-size: 10pt; }
  a { color: inherit; text-decoration: none; }
  section.control, table.summary tr, dl.meta { break-inside: avoid; page-break-inside: avoid; }
  h2 { break-after: avoid; page-break-after: avoid; }
  .badge { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  details > summary { display: none; }
}
@page { margin: 16mm; }
`;
