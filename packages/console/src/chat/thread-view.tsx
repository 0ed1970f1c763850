import type { DialogBody, MessageBody } from '@parley/protocol';
import { useEffect, useLayoutEffect, useRef, useState } from 'react';
import { AttachmentView } from './attachment-view.tsx';
import type { ChatModel, PendingSend, Receipts } from './chat-model.ts';
import { chatErrorText, timeOf, userLabel } from './chat-text.ts';
import { Composer } from './composer.tsx';
import { startCall } from './call-panel.tsx';
import { useChat } from './use-chat.ts';

const REACTIONS = ['👍', '❤️', '😂', '🎉', '😮'];

/** One dialog: its history (older pages load on scrolling up), who is typing, and the composer. */
export function ThreadView(props: {
  model: ChatModel;
  dialog: DialogBody;
  title: string;
  peerId: string | undefined;
}) {
  const { model, dialog, title, peerId } = props;
  const state = useChat(model);
  const thread = state.threads[dialog.id];
  const pending = state.pending.filter((entry) => entry.dialogId === dialog.id);
  const receipts = state.receipts[dialog.id] ?? {};
  const typing = model.typingIn(dialog.id);
  const log = useRef<HTMLDivElement>(null);
  const anchor = useRef<{ height: number; top: number; firstId: string | undefined }>(undefined);
  const [error, setError] = useState<string>();

  const messages = thread?.messages ?? [];
  const firstId = messages[0]?.id;
  const lastKey = `${messages.at(-1)?.id ?? ''}:${String(pending.length)}`;

  // Older messages were put in front: keep what the user was looking at in place.
  useLayoutEffect(() => {
    const element = log.current;
    const before = anchor.current;
    if (!element) return;
    if (before && before.firstId !== firstId)
      element.scrollTop = before.top + element.scrollHeight - before.height;
    anchor.current = { height: element.scrollHeight, top: element.scrollTop, firstId };
  }, [firstId]);

  // A new message at the end: follow it when the user was at (or near) the bottom.
  useLayoutEffect(() => {
    const element = log.current;
    if (!element) return;
    const nearBottom = element.scrollHeight - element.scrollTop - element.clientHeight < 160;
    if (nearBottom || anchor.current?.firstId === undefined) element.scrollTop = element.scrollHeight;
  }, [lastKey]);

  useEffect(() => {
    const element = log.current;
    if (!element || !thread || thread.loading || thread.complete) return;
    // The first page does not fill the pane: there is no scroll to start the next one.
    if (element.scrollHeight <= element.clientHeight) void model.loadOlder(dialog.id);
  }, [model, dialog.id, thread]);

  const onScroll = () => {
    const element = log.current;
    if (!element) return;
    anchor.current = { height: element.scrollHeight, top: element.scrollTop, firstId };
    if (element.scrollTop < 80 && thread && !thread.complete && !thread.loading)
      void model.loadOlder(dialog.id);
  };

  const act = (work: Promise<unknown>) => {
    setError(undefined);
    work.catch((caught: unknown) => {
      setError(chatErrorText(caught));
    });
  };

  const othersRead = Object.entries(receipts).filter(([userId]) => userId !== model.me.id);
  const presence = peerId === undefined ? undefined : (state.presence[peerId] ?? 'offline');

  return (
    <section className="thread" aria-labelledby="thread-title">
      <div className="thread-header">
        <button
          type="button"
          className="secondary back"
          onClick={() => {
            model.open(undefined);
          }}
        >
          Back<span className="visually-hidden"> to dialogs</span>
        </button>
        <h2 id="thread-title">{title}</h2>
        {presence ? (
          <span className={`presence ${presence}`} data-testid="peer-presence">
            {presence}
          </span>
        ) : null}
        <button
          type="button"
          className="secondary"
          onClick={() => {
            act(startCall(model, dialog, 'audio'));
          }}
        >
          Audio call
        </button>
        <button
          type="button"
          className="secondary"
          onClick={() => {
            act(startCall(model, dialog, 'video'));
          }}
        >
          Video call
        </button>
      </div>
      <div
        className="log"
        role="log"
        aria-label={`Messages in ${title}`}
        ref={log}
        onScroll={onScroll}
        tabIndex={0}
      >
        {thread?.complete ? (
          <p className="history-start">Start of the conversation</p>
        ) : (
          <button
            type="button"
            className="link"
            disabled={thread?.loading === true}
            onClick={() => {
              void model.loadOlder(dialog.id);
            }}
          >
            {thread?.loading === true ? 'Loading…' : 'Load older messages'}
          </button>
        )}
        {thread?.error ? <p className="error">{thread.error}</p> : null}
        <ol className="messages">
          {messages.map((message) => (
            <MessageItem
              key={message.id}
              model={model}
              message={message}
              receipts={othersRead}
              isLastMine={message.id === lastMineId(messages, model.me.id)}
              act={act}
            />
          ))}
          {pending.map((entry) => (
            <PendingItem key={entry.clientId} model={model} pending={entry} />
          ))}
        </ol>
      </div>
      <p className="typing" aria-live="polite">
        {typing.length > 0
          ? `${typing.map((userId) => userLabel(userId, model.me)).join(', ')} ${typing.length === 1 ? 'is' : 'are'} typing…`
          : ''}
      </p>
      {error ? (
        <p className="error" role="alert">
          {error}
        </p>
      ) : null}
      <Composer model={model} dialogId={dialog.id} />
    </section>
  );
}

function lastMineId(messages: readonly MessageBody[], myId: string): string | undefined {
  for (let index = messages.length - 1; index >= 0; index -= 1) {
    const message = messages[index];
    if (message && message.senderId === myId && !message.deleted) return message.id;
  }
  return undefined;
}

function receiptText(seq: number, receipts: readonly [string, Receipts][]): string {
  if (receipts.length === 0) return 'Sent';
  if (receipts.every(([, entry]) => entry.readSeq >= seq)) return 'Read';
  if (receipts.some(([, entry]) => entry.readSeq >= seq)) return 'Read by some';
  if (receipts.every(([, entry]) => entry.deliveredSeq >= seq)) return 'Delivered';
  return 'Sent';
}

function MessageItem(props: {
  model: ChatModel;
  message: MessageBody;
  receipts: readonly [string, Receipts][];
  isLastMine: boolean;
  act: (work: Promise<unknown>) => void;
}) {
  const { model, message, act } = props;
  const mine = message.senderId === model.me.id;
  const [editing, setEditing] = useState(false);
  const [picking, setPicking] = useState(false);
  const sender = userLabel(message.senderId, model.me);
  if (message.deleted)
    return (
      <li className={`message deleted${mine ? ' mine' : ''}`} data-seq={message.seq}>
        <span className="meta">{sender}</span>
        <p className="body">Message deleted</p>
      </li>
    );
  return (
    <li className={`message${mine ? ' mine' : ''}`} data-seq={message.seq} data-testid="message">
      <span className="meta">
        {sender} · <time dateTime={message.createdAt}>{timeOf(message.createdAt)}</time>
        {message.editedAt ? ' · edited' : ''}
      </span>
      {editing ? (
        <form
          className="edit-form"
          aria-label="Edit message"
          onSubmit={(event) => {
            event.preventDefault();
            const text = new FormData(event.currentTarget).get('body');
            if (typeof text === 'string' && text.trim() !== '')
              act(model.edit(message.dialogId, message.id, text));
            setEditing(false);
          }}
        >
          <label>
            New text
            <input name="body" defaultValue={message.body ?? ''} autoFocus required />
          </label>
          <button type="submit">Save</button>
          <button
            type="button"
            className="secondary"
            onClick={() => {
              setEditing(false);
            }}
          >
            Cancel
          </button>
        </form>
      ) : message.body ? (
        <p className="body">{message.body}</p>
      ) : null}
      {message.attachments.map((attachment) => (
        <AttachmentView key={attachment.id} model={model} attachment={attachment} />
      ))}
      {message.reactions.length > 0 ? (
        <ul className="reactions" aria-label="Reactions">
          {message.reactions.map((reaction) => {
            const byMe = reaction.userIds.includes(model.me.id);
            return (
              <li key={reaction.emoji}>
                <button
                  type="button"
                  className="reaction"
                  aria-pressed={byMe}
                  aria-label={`${reaction.emoji} ${String(reaction.userIds.length)}${byMe ? ', yours: remove' : ''}`}
                  onClick={() => {
                    act(model.react(message.dialogId, message, reaction.emoji));
                  }}
                >
                  {reaction.emoji} {reaction.userIds.length}
                </button>
              </li>
            );
          })}
        </ul>
      ) : null}
      <div className="actions">
        <button
          type="button"
          className="link"
          aria-expanded={picking}
          aria-label={`React to message from ${sender}`}
          onClick={() => {
            setPicking(!picking);
          }}
        >
          React
        </button>
        {mine ? (
          <>
            <button
              type="button"
              className="link"
              onClick={() => {
                setEditing(true);
              }}
            >
              Edit
            </button>
            <button
              type="button"
              className="link danger"
              onClick={() => {
                act(model.remove(message.dialogId, message.id, true));
              }}
            >
              Delete for everyone
            </button>
          </>
        ) : null}
        <button
          type="button"
          className="link"
          onClick={() => {
            act(model.remove(message.dialogId, message.id, false));
          }}
        >
          Delete for me
        </button>
        {mine && props.isLastMine ? (
          <span className="receipt" data-testid="receipt">
            {receiptText(message.seq, props.receipts)}
          </span>
        ) : null}
      </div>
      {picking ? (
        <div className="picker" role="group" aria-label="Pick a reaction">
          {REACTIONS.map((emoji) => (
            <button
              key={emoji}
              type="button"
              className="reaction"
              aria-label={`React with ${emoji}`}
              onClick={() => {
                setPicking(false);
                act(model.react(message.dialogId, message, emoji));
              }}
            >
              {emoji}
            </button>
          ))}
        </div>
      ) : null}
    </li>
  );
}

const PENDING_TEXT: Readonly<Record<PendingSend['state'], string>> = {
  sending: 'Sending…',
  queued: 'Queued: sent when the connection is back',
  sent: 'Sent',
  failed: 'Not sent',
};

function PendingItem({ model, pending }: { model: ChatModel; pending: PendingSend }) {
  return (
    <li className={`message mine pending ${pending.state}`} data-testid="pending" data-state={pending.state}>
      <span className="meta">
        {userLabel(model.me.id, model.me)} · {PENDING_TEXT[pending.state]}
      </span>
      {pending.body ? <p className="body">{pending.body}</p> : null}
      {pending.attachments.map((attachment) => (
        <p key={attachment.id} className="file">
          {attachment.name}
        </p>
      ))}
      {pending.state === 'failed' ? (
        <div className="actions">
          <span className="error">{pending.error}</span>
          <button
            type="button"
            onClick={() => {
              model.retry(pending.clientId);
            }}
          >
            Retry
          </button>
          <button
            type="button"
            className="secondary"
            onClick={() => {
              model.discard(pending.clientId);
            }}
          >
            Discard
          </button>
        </div>
      ) : null}
    </li>
  );
}
