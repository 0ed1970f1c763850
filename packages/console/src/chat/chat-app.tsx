import { MemoryTokenStore, ParleyClient } from '@parley/client';
import { useEffect, useMemo, useState } from 'react';
import { DataExportSection } from '../data-export-section.tsx';
import { CallPanel } from './call-panel.tsx';
import { ChatModel } from './chat-model.ts';
import { ChatSignIn } from './chat-sign-in.tsx';
import { chatErrorText, dialogLabel, peerOf } from './chat-text.ts';
import { DialogList } from './dialog-list.tsx';
import { SearchPanel } from './search-panel.tsx';
import { ThreadView } from './thread-view.tsx';
import { useChat } from './use-chat.ts';

/**
 * The chat web app at /app/. Tokens live in a {@link MemoryTokenStore} only (a reload signs in again); the
 * page talks to the API on its own origin through the SDK.
 */
export function ChatApp() {
  const [session, setSession] = useState<{ client: ParleyClient; tokens: MemoryTokenStore }>(newSession);
  const [model, setModel] = useState<ChatModel>();
  const [notice, setNotice] = useState<string>();

  const signedIn = () => {
    session.client.account
      .me()
      .then((me) => {
        setNotice(undefined);
        setModel(new ChatModel(session.client, session.tokens, me));
      })
      .catch((caught: unknown) => {
        setNotice(chatErrorText(caught));
      });
  };

  const signOut = () => {
    model?.stop();
    void session.client.auth.signOut().catch(() => undefined);
    setModel(undefined);
    setSession(newSession());
  };

  if (!model)
    return (
      <>
        {notice ? (
          <p className="notice" role="status">
            {notice}
          </p>
        ) : null}
        <ChatSignIn client={session.client} onSignedIn={signedIn} />
      </>
    );
  return <ChatShell model={model} onSignOut={signOut} />;
}

function newSession() {
  const tokens = new MemoryTokenStore();
  return { tokens, client: new ParleyClient({ baseUrl: window.location.origin, tokenStore: tokens }) };
}

function ChatShell({ model, onSignOut }: { model: ChatModel; onSignOut: () => void }) {
  const state = useChat(model);
  const [searching, setSearching] = useState(false);
  const [myData, setMyData] = useState(false);
  useEffect(() => {
    model.start();
    return () => {
      model.stop();
    };
  }, [model]);
  const active = useMemo(
    () => state.dialogs.find((dialog) => dialog.id === state.activeId),
    [state.dialogs, state.activeId],
  );
  const offline = !state.online || (state.connection !== 'ready' && state.connection !== 'idle');
  const queued = state.pending.filter((entry) => entry.state === 'queued').length;

  return (
    <div className={`chat${active ? ' has-active' : ''}`}>
      <header className="chat-header">
        <h1>Parley chat</h1>
        <p className="whoami">
          Signed in as <span data-testid="my-name">{model.me.displayName}</span>
        </p>
        <p className={`conn conn-${state.online ? state.connection : 'offline'}`} aria-label="Connection">
          {!state.online ? 'Offline' : state.connection === 'ready' ? 'Connected' : state.connection}
        </p>
        <button
          type="button"
          aria-expanded={searching}
          onClick={() => {
            setSearching(!searching);
          }}
        >
          Search
        </button>
        <button
          type="button"
          className="secondary"
          aria-expanded={myData}
          onClick={() => {
            setMyData(!myData);
          }}
        >
          My data
        </button>
        <button type="button" className="secondary" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      {offline ? (
        <p className="offline-banner" role="status" aria-live="polite">
          {state.online ? 'Connection lost: reconnecting…' : 'You are offline.'}
          {queued > 0
            ? ` ${String(queued)} message${queued === 1 ? '' : 's'} queued: sent when back online.`
            : ''}
        </p>
      ) : null}
      {state.notice ? (
        <p className="notice" role="alert">
          {state.notice}
        </p>
      ) : null}
      <CallPanel model={model} />
      {myData ? <DataExportSection client={model.client} describe={chatErrorText} /> : null}
      {searching ? (
        <SearchPanel
          model={model}
          onOpen={(dialogId) => {
            model.open(dialogId);
            setSearching(false);
          }}
          onClose={() => {
            setSearching(false);
          }}
        />
      ) : null}
      <div className="chat-body">
        <DialogList model={model} />
        {active ? (
          <ThreadView
            key={active.id}
            model={model}
            dialog={active}
            title={dialogLabel(active, model.me)}
            peerId={peerOf(active, model.me.id)}
          />
        ) : (
          <section className="thread empty" aria-label="No dialog open">
            <p>{state.dialogsLoaded ? 'Choose a dialog.' : 'Loading dialogs…'}</p>
          </section>
        )}
      </div>
    </div>
  );
}
