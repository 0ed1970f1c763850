import type { AttachmentBody } from '@parley/protocol';
import { type KeyboardEvent, type SyntheticEvent, useRef, useState } from 'react';
import type { ChatModel } from './chat-model.ts';
import { chatErrorText, sizeOf } from './chat-text.ts';
import { uploadWithProgress } from './upload.ts';

interface Upload {
  key: string;
  name: string;
  progress: number;
  done?: AttachmentBody;
  error?: string;
}

/** Text and files for one dialog: Enter sends, Shift+Enter is a new line; files upload as soon as picked. */
export function Composer({ model, dialogId }: { model: ChatModel; dialogId: string }) {
  const [text, setText] = useState('');
  const [uploads, setUploads] = useState<Upload[]>([]);
  const files = useRef<HTMLInputElement>(null);
  const busy = uploads.some((upload) => upload.done === undefined && upload.error === undefined);

  const patch = (key: string, change: Partial<Upload>) => {
    setUploads((current) =>
      current.map((upload) => (upload.key === key ? { ...upload, ...change } : upload)),
    );
  };

  const pick = () => {
    const picked = [...(files.current?.files ?? [])];
    if (files.current) files.current.value = '';
    for (const file of picked) {
      const key = globalThis.crypto.randomUUID();
      setUploads((current) => [...current, { key, name: file.name, progress: 0 }]);
      uploadWithProgress(model, file, (progress) => {
        patch(key, { progress });
      }).then(
        (done) => {
          patch(key, { done, progress: 1 });
        },
        (error: unknown) => {
          patch(key, { error: chatErrorText(error) });
        },
      );
    }
  };

  const send = (event?: SyntheticEvent) => {
    event?.preventDefault();
    const ready = uploads.flatMap((upload) => (upload.done ? [upload.done] : []));
    if (busy || (text.trim() === '' && ready.length === 0)) return;
    model.send(dialogId, text, ready);
    setText('');
    setUploads([]);
  };

  const onKey = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === 'Enter' && !event.shiftKey) send(event);
  };

  return (
    <form className="composer" aria-label="Send a message" onSubmit={send}>
      {uploads.length > 0 ? (
        <ul className="uploads" aria-label="Attachments to send">
          {uploads.map((upload) => (
            <li key={upload.key}>
              <span className="file-name">{upload.name}</span>{' '}
              {upload.error ? (
                <span className="error">{upload.error}</span>
              ) : upload.done ? (
                <span>uploaded, {sizeOf(upload.done.size)}</span>
              ) : (
                <progress max={1} value={upload.progress} aria-label={`Uploading ${upload.name}`} />
              )}{' '}
              <button
                type="button"
                className="link"
                aria-label={`Remove ${upload.name}`}
                onClick={() => {
                  setUploads((current) => current.filter((entry) => entry.key !== upload.key));
                }}
              >
                Remove
              </button>
            </li>
          ))}
        </ul>
      ) : null}
      <div className="composer-row">
        <label className="file-pick">
          <span>Attach</span>
          <input ref={files} type="file" multiple onChange={pick} aria-label="Attach files" />
        </label>
        <label className="visually-hidden" htmlFor={`composer-${dialogId}`}>
          Message
        </label>
        <textarea
          id={`composer-${dialogId}`}
          name="message"
          rows={2}
          value={text}
          placeholder="Message"
          onChange={(event) => {
            setText(event.target.value);
            if (event.target.value !== '') model.typing(dialogId);
          }}
          onBlur={() => {
            model.stopTyping(dialogId);
          }}
          onKeyDown={onKey}
        />
        <button type="submit" disabled={busy}>
          {busy ? 'Uploading…' : 'Send'}
        </button>
      </div>
    </form>
  );
}
