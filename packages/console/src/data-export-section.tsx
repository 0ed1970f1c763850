import type { DataExport, ParleyClient } from '@parley/client';
import { useCallback, useEffect, useState } from 'react';
import { errorText } from './error-text.ts';
import { FormError } from './form-error.tsx';

/** How often the status is asked for while the archive is being built. */
const POLL_MS = 1500;

const building = (entry: DataExport | undefined) => entry?.status === 'queued' || entry?.status === 'running';

const DESTROYED: Readonly<Record<string, string>> = {
  expired: 'Your last archive expired and was deleted.',
  deleted: 'Your last archive was deleted.',
};

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
 * "Download my data" (GDPR Art. 15 and 20): asks the server for an export of the signed-in user's data,
 * follows it while the archive is built (a progress bar, the status polled every {@link POLL_MS} ms), then
 * downloads the archive with the bearer token and saves it from memory. Shared by the console's "My account"
 * page and the chat app; `describe` words errors as the host app does.
 */
export function DataExportSection({
  client,
  describe = errorText,
}: {
  client: ParleyClient;
  describe?: (error: unknown) => string;
}) {
  const [latest, setLatest] = useState<DataExport>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [downloaded, setDownloaded] = useState<string>();

  useEffect(() => {
    client.account.exports
      .list()
      .then((exports) => {
        setLatest(exports[0]);
      })
      .catch((caught: unknown) => {
        setError(describe(caught));
      });
  }, [client, describe]);

  // While the archive is built: ask again shortly (each answer schedules the next, so at most one in flight).
  useEffect(() => {
    if (latest === undefined || !building(latest)) return;
    const timer = setTimeout(() => {
      client.account.exports
        .get(latest.id)
        .then(setLatest)
        .catch((caught: unknown) => {
          setError(describe(caught));
        });
    }, POLL_MS);
    return () => {
      clearTimeout(timer);
    };
  }, [client, describe, latest]);

  const request = useCallback(() => {
    setBusy(true);
    setError(undefined);
    setDownloaded(undefined);
    client.account.exports
      .request()
      .then(setLatest)
      .catch((caught: unknown) => {
        setError(describe(caught));
      })
      .finally(() => {
        setBusy(false);
      });
  }, [client, describe]);

  const download = (entry: DataExport) => {
    setBusy(true);
    setError(undefined);
    client.account.exports
      .download(entry.id)
      .then(async (response) => {
        save(await response.blob(), fileNameOf(response, entry.id));
        setDownloaded('Download started.');
        setLatest(await client.account.exports.get(entry.id));
      })
      .catch((caught: unknown) => {
        setError(describe(caught));
      })
      .finally(() => {
        setBusy(false);
      });
  };

  return (
    <section className="card data-export" aria-labelledby="data-export-title">
      <h2 id="data-export-title">Download my data</h2>
      <p>
        An archive (.tar.gz) of your profile, your messages and your uploads, prepared in the background. It
        can be downloaded until it expires.
      </p>
      <ExportState entry={latest} />
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
          {latest ? 'Request a new export' : 'Request my data'}
        </button>
      ) : null}
      <p role="status">{downloaded ?? ''}</p>
      <FormError text={error} />
    </section>
  );
}

/** Where the latest export stands, announced politely as it changes. */
function ExportState({ entry }: { entry: DataExport | undefined }) {
  if (entry === undefined) return <p role="status">No export requested yet.</p>;
  if (building(entry)) {
    const records = entry.recordsWritten;
    return (
      <div className="export-progress">
        {/* The server counts records written but not how many there will be: the bar runs without a value. */}
        <progress aria-label="Preparing your data export" />
        <p role="status">
          {entry.status === 'queued'
            ? 'Waiting to start…'
            : `Preparing: ${records} record${records === 1 ? '' : 's'} written so far…`}
        </p>
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
      {DESTROYED[entry.destroyedReason ?? ''] ?? 'Your last archive is no longer available.'}
    </p>
  );
}
