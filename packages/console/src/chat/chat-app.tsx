import { MemoryTokenStore, ParleyClient, type SignedIn } from '@parley/client';
import { useEffect, useMemo, useState } from 'react';
import { ConsentRequiredPage } from '../consent-required-page.tsx';
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
  /**
   * The user owes consent to a required purpose: the consent step is shown and nothing connects (the
   * realtime socket would only be refused with 4003) until they accept.
   */
  const [owesConsent, setOwesConsent] = useState(false);

  const signedIn = (answer: SignedIn) => {
    session.client.account
      .me()
      .then((me) => {
        setNotice(undefined);
        setOwesConsent(answer.notice === 'consent_required');
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
    setOwesConsent(false);
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
  if (owesConsent)
    return (
      <ConsentRequiredPage
        client={session.client}
        appName="Parley chat"
        describe={chatErrorText}
        onAccepted={() => {
          // The same token works in full again: the shell mounts and connects.
          setOwesConsent(false);
        }}
        onSignOut={signOut}
      />
    );
  return (
    <ChatShell
      model={model}
      onSignOut={signOut}
      onConsentRequired={() => {
        setOwesConsent(true);
      }}
    />
  );
}

function newSession() {
  const tokens = new MemoryTokenStore();
  return { tokens, client: new ParleyClient({ baseUrl: window.location.origin, tokenStore: tokens }) };
}

function ChatShell({
  model,
  onSignOut,
  onConsentRequired,
}: {
  model: ChatModel;
  onSignOut: () => void;
  onConsentRequired: () => void;
}) {
  const state = useChat(model);
  const [searching, setSearching] = useState(false);
  const [myData, setMyData] = useState(false);
  useEffect(() => {
    model.start();
    return () => {
      model.stop();
    };
  }, [model]);
  // Unmounting the shell stops the model; it starts (and connects) again once the consent step is passed.
  useEffect(() => {
    if (state.consentRequired) onConsentRequired();
  }, [state.consentRequired, onConsentRequired]);
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
