import type { DataExport, ParleyClient } from '@parley/client';
import { useCallback, useEffect, useId, useState } from 'react';
import { errorText } from './error-text.ts';
import type { ExportEndpoints } from './export-endpoints.ts';
import { FormError } from './form-error.tsx';

/** How often the status is asked for while the archive is being built. */
const POLL_MS = 1500;

const building = (entry: DataExport | undefined) => entry?.status === 'queued' || entry?.status === 'running';

const DESTROYED: Readonly<Record<string, string>> = {
  expired: 'The last archive expired and was deleted.',
  deleted: 'The last archive was deleted.',
  subject_erased: 'The last archive was deleted: the account was erased.',
  correspondent_erased: 'The last archive was deleted: someone in it was erased.',
};

/** Whose data a section exports: the signed-in user's own (undefined), or a user's named here. */
type Subject = { name: string } | undefined;

/** The words that differ between one's own data and a user's exported by an administrator. */
function wordsFor(subject: Subject) {
  if (subject === undefined)
    return {
      title: 'Download my data',
      intro:
        'An archive (.tar.gz) of your profile, your messages and your uploads, prepared in the background. It can be downloaded until it expires.',
      none: 'No export requested yet.',
      first: 'Request my data',
      preparing: 'Preparing your data export',
    };
  const { name } = subject;
  return {
    title: `Data of ${name}`,
    intro: `An archive (.tar.gz) of ${name}’s profile, messages and uploads, to hand to them (GDPR Art. 15 and 20), prepared in the background. Only you can download it, until it expires.`,
    none: `You have not exported ${name}’s data yet.`,
    first: `Export ${name}’s data`,
    preparing: `Preparing the data export of ${name}`,
  };
}

/** The archive's file name as the server names it (`content-disposition`), or one of our own. */
function fileNameOf(response: Response, exportId: string): string {
  const named = /filename="([^"]+)"/.exec(response.headers.get('content-disposition') ?? '');
  return named?.[1] ?? `parley-export-${exportId}.tar.gz`;
}

/** Saves a blob as a file: an object URL (the page's origin), never a URL with the token in it. */
function save(blob: Blob, fileName: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = fileName;
  link.click();
  setTimeout(() => {
    URL.revokeObjectURL(url);
  }, 10_000);
}

function sizeOf(bytes: number): string {
  if (bytes < 1024 * 1024) return `${Math.max(1, Math.round(bytes / 1024))} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/**
 * "Download my data" (GDPR Art. 15 and 20): asks the server for an export, follows it while the archive is
 * built (a progress bar, the status polled every {@link POLL_MS} ms), then downloads the archive with the
 * bearer token and saves it from memory. By default the signed-in user's own data (the console's "My account"
 * page and the chat app); with `endpoints` and `subject`, a user's data exported by an administrator (the
 * users page). `describe` words errors as the host app does.
 */
export function DataExportSection({
  client,
  describe = errorText,
  endpoints,
  subject,
}: {
  client: ParleyClient;
  describe?: (error: unknown) => string;
  /** Where exports are asked for; the signed-in user's own (`client.account.exports`) by default. */
  endpoints?: ExportEndpoints;
  subject?: Subject;
}) {
  const exports = endpoints ?? client.account.exports;
  const words = wordsFor(subject);
  const titleId = useId();
  const [latest, setLatest] = useState<DataExport>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [downloaded, setDownloaded] = useState<string>();

  useEffect(() => {
    exports
      .list()
      .then((list) => {
        setLatest(list[0]);
      })
      .catch((caught: unknown) => {
        setError(describe(caught));
      });
  }, [exports, describe]);

  // While the archive is built: ask again shortly (each answer schedules the next, so at most one in flight).
  useEffect(() => {
    if (latest === undefined || !building(latest)) return;
    const timer = setTimeout(() => {
      exports
        .get(latest.id)
        .then(setLatest)
        .catch((caught: unknown) => {
          setError(describe(caught));
        });
    }, POLL_MS);
    return () => {
      clearTimeout(timer);
    };
  }, [exports, describe, latest]);

  const request = useCallback(() => {
    setBusy(true);
    setError(undefined);
    setDownloaded(undefined);
    exports
      .request()
      .then(setLatest)
      .catch((caught: unknown) => {
        setError(describe(caught));
      })
      .finally(() => {
        setBusy(false);
      });
  }, [exports, describe]);

  const download = (entry: DataExport) => {
    setBusy(true);
    setError(undefined);
    exports
      .download(entry.id)
      .then(async (response) => {
        save(await response.blob(), fileNameOf(response, entry.id));
        setDownloaded('Download started.');
        setLatest(await exports.get(entry.id));
      })
      .catch((caught: unknown) => {
        setError(describe(caught));
      })
      .finally(() => {
        setBusy(false);
      });
  };

  return (
    <section className="card data-export" aria-labelledby={titleId}>
      {subject === undefined ? <h2 id={titleId}>{words.title}</h2> : <h3 id={titleId}>{words.title}</h3>}
      <p>{words.intro}</p>
      <ExportState entry={latest} words={words} />
      {latest?.status === 'ready' ? (
        <button
          type="button"
          disabled={busy}
          onClick={() => {
            download(latest);
          }}
        >
          Download archive
        </button>
      ) : null}
      {!building(latest) ? (
        <button type="button" className="secondary" disabled={busy} onClick={request}>
          {latest ? 'Request a new export' : words.first}
        </button>
      ) : null}
      <p role="status">{downloaded ?? ''}</p>
      <FormError text={error} />
    </section>
  );
}

/** "3 of 12 sections (25 %), now messages; 120 records written so far": how far the build has gone. */
function progressText(entry: DataExport): string {
  const count = entry.recordsWritten;
  const records = `${count} record${count === 1 ? '' : 's'} written so far`;
  if (entry.status === 'queued') return 'Waiting to start…';
  const progress = entry.progress;
  if (!progress) return `Preparing: ${records}…`;
  const { sectionsDone, sectionsTotal, section } = progress;
  const percent = Math.round((100 * sectionsDone) / sectionsTotal);
  const now = section === null ? '' : `, now ${section.replaceAll('-', ' ')}`;
  return `Preparing: ${sectionsDone} of ${sectionsTotal} sections (${percent} %)${now}; ${records}…`;
}

/** Where the latest export stands, announced politely as it changes. */
function ExportState({
  entry,
  words,
}: {
  entry: DataExport | undefined;
  words: ReturnType<typeof wordsFor>;
}) {
  if (entry === undefined) return <p role="status">{words.none}</p>;
  if (building(entry)) {
    const progress = entry.progress;
    return (
      <div className="export-progress">
        {/* Determinate when the server says how many of the archive's sections are done (not while it
            only counts records, whose total is not known until each section is read). */}
        {progress ? (
          <progress aria-label={words.preparing} value={progress.sectionsDone} max={progress.sectionsTotal} />
        ) : (
          <progress aria-label={words.preparing} />
        )}
        <p role="status">{progressText(entry)}</p>
      </div>
    );
  }
  if (entry.status === 'ready')
    return (
      <p role="status">
        Ready{entry.archiveBytes === null ? '' : ` (${sizeOf(entry.archiveBytes)})`}.{' '}
        {entry.expiresAt ? `Available until ${new Date(entry.expiresAt).toLocaleString()}.` : ''}
      </p>
    );
  if (entry.status === 'failed')
    return <p role="status">The export could not be completed. Request a new one.</p>;
  return (
    <p role="status">
      {DESTROYED[entry.destroyedReason ?? ''] ?? 'The last archive is no longer available.'}
    </p>
  );
}
