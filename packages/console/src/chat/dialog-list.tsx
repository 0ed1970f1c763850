import type { ChatModel } from './chat-model.ts';
import { dialogLabel, peerOf } from './chat-text.ts';
import { useChat } from './use-chat.ts';

/** The caller's dialogs, most recent activity first, each with its unread count and the peer's presence. */
export function DialogList({ model }: { model: ChatModel }) {
  const state = useChat(model);
  return (
    <nav className="dialogs" aria-label="Dialogs">
      <h2 className="visually-hidden">Dialogs</h2>
      {state.dialogsLoaded && state.dialogs.length === 0 ? <p>No dialogs yet.</p> : null}
      <ul>
        {state.dialogs.map((dialog) => {
          const label = dialogLabel(dialog, model.me);
          const peer = peerOf(dialog, model.me.id);
          const presence = peer === undefined ? undefined : (state.presence[peer] ?? 'offline');
          const last = dialog.lastMessage;
          const preview =
            last === null ? '' : last.deleted ? 'Message deleted' : (last.body ?? '') || 'Attachment';
          const unread = dialog.unreadCount;
          return (
            <li key={dialog.id}>
              <button
                type="button"
                className={`dialog-item${dialog.id === state.activeId ? ' active' : ''}`}
                aria-current={dialog.id === state.activeId ? 'true' : undefined}
                onClick={() => {
                  model.open(dialog.id);
                }}
              >
                <span className="dialog-name">
                  {presence ? <span className={`dot ${presence}`} aria-hidden="true" /> : null}
                  {label}
                  {presence ? <span className="visually-hidden">, {presence}</span> : null}
                </span>
                {unread > 0 ? (
                  <span className="unread" data-testid="unread">
                    <span className="visually-hidden">, </span>
                    {unread}
                    <span className="visually-hidden"> unread</span>
                  </span>
                ) : null}
                <span className="dialog-preview">{preview}</span>
              </button>
            </li>
          );
        })}
      </ul>
    </nav>
  );
}
