import type { SearchResult } from '@parley/protocol';
import { type SyntheticEvent, useState } from 'react';
import type { ChatModel } from './chat-model.ts';
import { chatErrorText, dialogLabel, timeOf, userLabel } from './chat-text.ts';
import { Highlighted } from './highlight.tsx';

/** Message search over the caller's dialogs, newest first, matches highlighted; a result opens its dialog. */
export function SearchPanel(props: {
  model: ChatModel;
  onOpen: (dialogId: string) => void;
  onClose: () => void;
}) {
  const { model } = props;
  const [results, setResults] = useState<SearchResult[]>();
  const [cursor, setCursor] = useState<string>();
  const [query, setQuery] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const run = (q: string, after: string | undefined) => {
    setBusy(true);
    setError(undefined);
    model.client.search
      .messages({ q, limit: 20, ...(after === undefined ? {} : { cursor: after }) })
      .then((page) => {
        setResults((current) => [...(after === undefined ? [] : (current ?? [])), ...page.results]);
        setCursor(page.nextCursor);
      })
      .catch((caught: unknown) => {
        setError(chatErrorText(caught));
      })
      .finally(() => {
        setBusy(false);
      });
  };
  const submit = (event: SyntheticEvent<HTMLFormElement>) => {
    event.preventDefault();
    if (query.trim() !== '') run(query.trim(), undefined);
  };
  const labelOf = (dialogId: string) => {
    const dialog = model.state.dialogs.find((entry) => entry.id === dialogId);
    return dialog ? dialogLabel(dialog, model.me) : 'a dialog';
  };

  return (
    <section className="search" aria-label="Search messages">
      <form role="search" onSubmit={submit} className="row">
        <label>
          Search messages
          <input
            type="search"
            value={query}
            autoFocus
            onChange={(event) => {
              setQuery(event.target.value);
            }}
          />
        </label>
        <button type="submit" disabled={busy}>
          {busy ? 'Searching…' : 'Search'}
        </button>
        <button type="button" className="secondary" onClick={props.onClose}>
          Close search
        </button>
      </form>
      {error ? (
        <p className="error" role="alert">
          {error}
        </p>
      ) : null}
      {results ? (
        <>
          <p role="status">
            {results.length === 0
              ? 'No messages found.'
              : `${String(results.length)} found${cursor ? ' so far' : ''}.`}
          </p>
          <ul className="results">
            {results.map((result) => (
              <li key={result.message.id}>
                <button
                  type="button"
                  className="result"
                  onClick={() => {
                    props.onOpen(result.dialogId);
                  }}
                >
                  <span className="meta">
                    {labelOf(result.dialogId)} · {userLabel(result.message.senderId, model.me)} ·{' '}
                    {timeOf(result.message.createdAt)}
                  </span>
                  <span className="snippet" data-testid="snippet">
                    <Highlighted text={result.snippet} ranges={result.highlights} />
                  </span>
                </button>
              </li>
            ))}
          </ul>
          {cursor ? (
            <button
              type="button"
              className="secondary"
              disabled={busy}
              onClick={() => {
                run(query.trim(), cursor);
              }}
            >
              Search further back
            </button>
          ) : null}
        </>
      ) : null}
    </section>
  );
}
