import type { AttachmentSummary } from '@parley/protocol';
import { useEffect, useState } from 'react';
import type { ChatModel } from './chat-model.ts';
import { chatErrorText, sizeOf } from './chat-text.ts';

/** Images up to this size get an inline preview. */
const PREVIEW_MAX_BYTES = 5 * 1024 * 1024;

/**
 * An attachment of a message: its name and size, a download button, and for an image (by the type the server
 * sniffed from the bytes) a preview. The bytes come through the SDK (with the token), so the preview is a
 * `data:` URL — the CSP allows images from this origin and `data:` only.
 */
export function AttachmentView({ model, attachment }: { model: ChatModel; attachment: AttachmentSummary }) {
  const [preview, setPreview] = useState<string>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const image =
    !attachment.removed &&
    /^image\/(png|jpeg|gif|webp)$/.test(attachment.contentType) &&
    attachment.size <= PREVIEW_MAX_BYTES;

  useEffect(() => {
    if (!image) return;
    let live = true;
    model.client.attachments
      .download(attachment.id)
      .then((content) => content.blob())
      .then(dataUrlOf)
      .then((url) => {
        if (live) setPreview(url);
      })
      .catch((caught: unknown) => {
        if (live) setError(chatErrorText(caught));
      });
    return () => {
      live = false;
    };
  }, [model, attachment.id, image]);

  if (attachment.removed) return <p className="file removed">Attachment removed</p>;

  const download = () => {
    setBusy(true);
    setError(undefined);
    model.client.attachments
      .download(attachment.id)
      .then((content) => content.blob())
      .then((blob) => {
        const url = URL.createObjectURL(blob);
        const link = document.createElement('a');
        link.href = url;
        link.download = attachment.name;
        link.click();
        setTimeout(() => {
          URL.revokeObjectURL(url);
        }, 10_000);
      })
      .catch((caught: unknown) => {
        setError(chatErrorText(caught));
      })
      .finally(() => {
        setBusy(false);
      });
  };

  return (
    <div className="file" data-testid="attachment">
      {preview ? <img className="preview" src={preview} alt={`Preview of ${attachment.name}`} /> : null}
      <span className="file-name">{attachment.name}</span>{' '}
      <span className="file-size">{sizeOf(attachment.size)}</span>{' '}
      <button
        type="button"
        className="link"
        onClick={download}
        disabled={busy}
        aria-label={`Download ${attachment.name}`}
      >
        {busy ? 'Downloading…' : 'Download'}
      </button>
      {error ? <span className="error"> {error}</span> : null}
    </div>
  );
}

function dataUrlOf(blob: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => {
      resolve(typeof reader.result === 'string' ? reader.result : '');
    };
    reader.onerror = () => {
      reject(reader.error ?? new Error('The file could not be read.'));
    };
    reader.readAsDataURL(blob);
  });
}
