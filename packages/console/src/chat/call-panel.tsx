import type { Call, CallEndReason } from '@parley/client';
import type { DialogBody } from '@parley/protocol';
import { useEffect, useRef, useSyncExternalStore } from 'react';
import type { ChatModel } from './chat-model.ts';
import { chatErrorText, peerOf, userLabel } from './chat-text.ts';

interface Remote {
  userId: string;
  deviceId: string;
  stream: MediaStream | undefined;
  state: RTCPeerConnectionState | 'joining';
}

interface CallView {
  call: Call | undefined;
  /** A call ringing on this device, not yet accepted or declined. */
  ringing: Call | undefined;
  local: MediaStream | undefined;
  remotes: readonly Remote[];
  micOff: boolean;
  cameraOff: boolean;
  ended: string | undefined;
  error: string | undefined;
}

/**
 * The device's call, through the SDK's calls module (one peer connection per remote device, ICE servers from
 * Parley); camera and microphone from `getUserMedia`. One call at a time.
 */
class CallStore {
  #view: CallView = {
    call: undefined,
    ringing: undefined,
    local: undefined,
    remotes: [],
    micOff: false,
    cameraOff: false,
    ended: undefined,
    error: undefined,
  };
  readonly #listeners = new Set<() => void>();

  constructor(readonly model: ChatModel) {
    model.client.calls.on('incoming', (call) => {
      if (this.#view.call || this.#view.ringing) return;
      call.on('ended', () => {
        if (this.#view.ringing === call) this.#set({ ringing: undefined });
      });
      this.#set({ ringing: call, ended: undefined, error: undefined });
    });
  }

  get view(): CallView {
    return this.#view;
  }

  subscribe = (listener: () => void) => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };

  getView = () => this.#view;

  #set(patch: Partial<CallView>): void {
    this.#view = { ...this.#view, ...patch };
    for (const listener of this.#listeners) listener();
  }

  async start(dialog: DialogBody, media: 'audio' | 'video'): Promise<void> {
    if (this.#view.call) throw new Error('A call is already in progress.');
    const local = await openMedia(media);
    const peer = peerOf(dialog, this.model.me.id);
    try {
      const call = await this.model.client.calls.start(peer ? { userId: peer } : { dialogId: dialog.id }, {
        media,
        stream: local,
      });
      this.#follow(call, local);
    } catch (error) {
      for (const track of local.getTracks()) track.stop();
      throw error;
    }
  }

  async accept(): Promise<void> {
    const call = this.#view.ringing;
    if (!call) return;
    this.#set({ ringing: undefined });
    try {
      const local = await openMedia(call.media);
      this.#follow(call, local);
      await call.accept({ stream: local });
    } catch (error) {
      this.#set({ error: chatErrorText(error) });
      void call.hangup().catch(() => undefined);
    }
  }

  async decline(): Promise<void> {
    const call = this.#view.ringing;
    this.#set({ ringing: undefined });
    await call?.reject();
  }

  async hangup(): Promise<void> {
    await this.#view.call?.hangup();
  }

  toggle(kind: 'audio' | 'video'): void {
    const tracks = kind === 'audio' ? this.#view.local?.getAudioTracks() : this.#view.local?.getVideoTracks();
    const off = kind === 'audio' ? !this.#view.micOff : !this.#view.cameraOff;
    for (const track of tracks ?? []) track.enabled = !off;
    this.#set(kind === 'audio' ? { micOff: off } : { cameraOff: off });
  }

  #follow(call: Call, local: MediaStream): void {
    this.#set({
      call,
      local,
      remotes: [],
      micOff: false,
      cameraOff: false,
      ended: undefined,
      error: undefined,
    });
    const upsert = (deviceId: string, userId: string, change: Partial<Remote>) => {
      const remotes = [...this.#view.remotes];
      const index = remotes.findIndex((entry) => entry.deviceId === deviceId);
      const base: Remote = remotes[index] ?? { userId, deviceId, stream: undefined, state: 'joining' };
      const next = { ...base, ...change };
      if (index >= 0) remotes[index] = next;
      else remotes.push(next);
      this.#set({ remotes });
    };
    call.on('participant.joined', ({ userId, deviceId }) => {
      upsert(deviceId, userId, {});
    });
    call.on('participant.left', ({ deviceId }) => {
      this.#set({ remotes: this.#view.remotes.filter((entry) => entry.deviceId !== deviceId) });
    });
    call.on('track', ({ userId, deviceId, streams }) => {
      upsert(deviceId, userId, { stream: streams[0] });
    });
    call.on('peer.state', ({ userId, deviceId, state }) => {
      upsert(deviceId, userId, { state });
      if (state === 'failed') void call.restartIce().catch(() => undefined);
    });
    call.on('state', () => {
      this.#set({});
    });
    call.on('ended', ({ outcome }) => {
      for (const track of local.getTracks()) track.stop();
      this.#set({ call: undefined, local: undefined, remotes: [], ended: endedText(outcome) });
    });
  }
}

function endedText(outcome: CallEndReason): string {
  const words: Partial<Record<CallEndReason, string>> = {
    completed: 'Call ended.',
    rejected: 'The call was declined.',
    cancelled: 'The call was cancelled.',
    missed: 'No answer.',
    busy: 'Busy.',
    answered_elsewhere: 'Answered on another device.',
    disconnected: 'The call ended: connection lost.',
  };
  return words[outcome] ?? `Call ended (${outcome}).`;
}

async function openMedia(media: 'audio' | 'video'): Promise<MediaStream> {
  if (!('mediaDevices' in navigator))
    throw new Error('This browser gives no access to camera or microphone.');
  return navigator.mediaDevices.getUserMedia({ audio: true, video: media === 'video' });
}

const stores = new WeakMap<ChatModel, CallStore>();

function storeOf(model: ChatModel): CallStore {
  let store = stores.get(model);
  if (!store) {
    store = new CallStore(model);
    stores.set(model, store);
  }
  return store;
}

/** Starts a 1:1 call (a private dialog's other member) or a group call (every member of the dialog). */
export function startCall(model: ChatModel, dialog: DialogBody, media: 'audio' | 'video'): Promise<void> {
  return storeOf(model).start(dialog, media);
}

/** The incoming-call prompt and the running call, with its videos and controls. */
export function CallPanel({ model }: { model: ChatModel }) {
  const store = storeOf(model);
  const view = useSyncExternalStore(store.subscribe, store.getView);
  const { call, ringing } = view;
  if (ringing)
    return (
      <section className="call ringing" role="alertdialog" aria-labelledby="incoming-title">
        <h2 id="incoming-title">
          Incoming {ringing.media} call from {userLabel(ringing.callerId, model.me)}
        </h2>
        <div className="row">
          <button
            type="button"
            autoFocus
            onClick={() => {
              void store.accept();
            }}
          >
            Accept
          </button>
          <button
            type="button"
            className="danger"
            onClick={() => {
              void store.decline().catch(() => undefined);
            }}
          >
            Decline
          </button>
        </div>
      </section>
    );
  if (!call)
    return view.ended || view.error ? (
      <p className="notice" role="status">
        {view.error ?? view.ended}
      </p>
    ) : null;
  const connected = view.remotes.filter((remote) => remote.state === 'connected');
  return (
    <section className="call" aria-label="Call">
      <h2>
        {call.media === 'video' ? 'Video' : 'Audio'} call ·{' '}
        <span data-testid="call-status">
          {connected.length > 0
            ? `Connected with ${connected.map((remote) => userLabel(remote.userId, model.me)).join(', ')}`
            : call.phase === 'outgoing'
              ? 'Ringing…'
              : 'Connecting…'}
        </span>
      </h2>
      <div className="videos">
        <Video stream={view.local} label="Your camera" muted />
        {view.remotes.map((remote) => (
          <Video
            key={remote.deviceId}
            stream={remote.stream}
            label={`${userLabel(remote.userId, model.me)} (${remote.state})`}
            muted={false}
          />
        ))}
      </div>
      <div className="row">
        <button
          type="button"
          className="secondary"
          aria-pressed={view.micOff}
          onClick={() => {
            store.toggle('audio');
          }}
        >
          {view.micOff ? 'Unmute microphone' : 'Mute microphone'}
        </button>
        {call.media === 'video' ? (
          <button
            type="button"
            className="secondary"
            aria-pressed={view.cameraOff}
            onClick={() => {
              store.toggle('video');
            }}
          >
            {view.cameraOff ? 'Camera on' : 'Camera off'}
          </button>
        ) : null}
        <button
          type="button"
          className="danger"
          onClick={() => {
            void store.hangup().catch(() => undefined);
          }}
        >
          Hang up
        </button>
      </div>
    </section>
  );
}

function Video({ stream, label, muted }: { stream: MediaStream | undefined; label: string; muted: boolean }) {
  const element = useRef<HTMLVideoElement>(null);
  useEffect(() => {
    if (element.current) element.current.srcObject = stream ?? null;
  }, [stream]);
  return (
    <figure className="video">
      <video ref={element} autoPlay playsInline muted={muted} aria-label={label} />
      <figcaption>{label}</figcaption>
    </figure>
  );
}
