import type { CallSignal, IceServersResponse, ServerFrame } from '@parley/protocol';
import type { RealtimeClient } from '../realtime/realtime-client.ts';
import { TypedEmitter } from '../realtime/typed-emitter.ts';
import { Call, type CallHost } from './call.ts';
import type { CallsEvents } from './call-events.ts';
import { IceServerCache } from './ice-servers.ts';

export interface CallsClientOptions {
  /** The WebRTC implementation; the browser's global `RTCPeerConnection` when absent (inject one in tests). */
  RTCPeerConnection?: typeof RTCPeerConnection;
  /** `relay` sends all media through TURN (hides the device's addresses from the other side). Default `all`. */
  iceTransportPolicy?: RTCIceTransportPolicy;
  /** Fetch new TURN credentials this long before they expire. Default 60 000 ms (at most half their lifetime). */
  iceRefreshMarginMs?: number;
}

/** Where the calls module gets its ICE servers and signaling from (a {@link ParleyClient} provides both). */
export interface CallsTransport {
  realtime: RealtimeClient;
  /** `GET /v1/calls/ice-servers` */
  iceServers(): Promise<IceServersResponse>;
}

/** Calls frames kept for a call this module does not know yet (its `call.created` is still on the way). */
const EARLY_FRAMES = 64;

type CallFrame = Extract<ServerFrame, { type: 'call.state' | 'call.signal' | 'call.ended' }>;

/**
 * Audio and video calls over WebRTC, signaled through the realtime connection (docs/calls.md, "Signaling"):
 * start a call to a user or a dialog, hear about incoming calls, accept, reject, hang up. Each call keeps one
 * RTCPeerConnection per remote device (a mesh of up to 8 participants) with ICE servers from Parley. Needs
 * a connected realtime client and a token with the `calls` scope.
 */
export class CallsClient {
  readonly #transport: CallsTransport;
  readonly #Peer: typeof RTCPeerConnection | undefined;
  readonly #iceTransportPolicy: RTCIceTransportPolicy | undefined;
  readonly #ice: IceServerCache;
  readonly #events = new TypedEmitter<CallsEvents>();
  readonly #calls = new Map<string, Call>();
  readonly #early: CallFrame[] = [];
  #refreshTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(transport: CallsTransport, options: CallsClientOptions = {}) {
    this.#transport = transport;
    this.#Peer = options.RTCPeerConnection ?? globalThis.RTCPeerConnection;
    this.#iceTransportPolicy = options.iceTransportPolicy;
    this.#ice = new IceServerCache(
      () => transport.iceServers(),
      options.iceRefreshMarginMs ?? 60_000,
      () => Date.now(),
    );
    const realtime = transport.realtime;
    realtime.on('call.incoming', (frame) => {
      if (this.#calls.has(frame.callId)) return;
      const call = this.#track(
        new Call(
          this.#host(),
          {
            id: frame.callId,
            callerId: frame.callerId,
            media: frame.media,
            dialogId: frame.dialogId,
          },
          'incoming',
        ),
      );
      this.#events.emit('incoming', call);
    });
    realtime.on('call.state', (frame) => {
      this.#route(frame);
    });
    realtime.on('call.signal', (frame) => {
      this.#route(frame);
    });
    realtime.on('call.ended', (frame) => {
      this.#route(frame);
    });
    // The server takes a closed connection out of its calls: so does this device.
    realtime.on('connection', (event) => {
      if (event.state === 'reconnecting' || event.state === 'closed')
        for (const call of [...this.#calls.values()]) call.end('disconnected');
    });
  }

  /** Calls in progress on this device (ringing, outgoing or active), by id. */
  get calls(): ReadonlyMap<string, Call> {
    return this.#calls;
  }

  /** Listens to `incoming`; answers the function that stops it. */
  on<K extends keyof CallsEvents>(type: K, listener: (event: CallsEvents[K]) => void): () => void {
    return this.#events.on(type, listener);
  }

  /**
   * Calls a user (1:1, who must share a dialog with you) or a dialog's members (a group call). `stream`: the
   * local media to send (e.g. from `getUserMedia`); without it, this device only receives.
   */
  async start(
    to: { userId: string } | { dialogId: string },
    options: { media: 'audio' | 'video'; stream?: MediaStream },
  ): Promise<Call> {
    this.#peerConstructor();
    const realtime = this.#transport.realtime;
    // Fetched now, so the first peer connection does not wait for it (and a missing scope shows at once).
    const ice = this.#ice.get().catch(() => undefined);
    const created = await realtime.request({ type: 'call.start', to, media: options.media });
    const call = this.#track(
      new Call(
        this.#host(),
        {
          id: created.callId,
          callerId: realtime.session?.userId ?? '',
          media: options.media,
          dialogId: 'dialogId' in to ? to.dialogId : null,
        },
        'outgoing',
      ),
    );
    if (options.stream) call.useStream(options.stream);
    this.#replayEarly(call);
    await ice;
    return call;
  }

  /** Accepts a ringing call on this device (see {@link Call.accept}). */
  async accept(callId: string, options: { stream?: MediaStream } = {}): Promise<Call> {
    const call = this.#known(callId);
    const ice = this.#ice.get().catch(() => undefined);
    await call.accept(options);
    await ice;
    return call;
  }

  /** Rejects a ringing call for all of this user's devices. */
  async reject(callId: string): Promise<void> {
    await this.#known(callId).reject();
  }

  /** Leaves a call (cancels it when it is this device's and still ringing). */
  async hangup(callId: string): Promise<void> {
    await this.#known(callId).hangup();
  }

  #known(callId: string): Call {
    const call = this.#calls.get(callId);
    if (!call) throw new Error(`No call ${callId} on this device.`);
    return call;
  }

  #peerConstructor(): typeof RTCPeerConnection {
    if (!this.#Peer)
      throw new TypeError('No RTCPeerConnection: calls need a browser, or pass one as `RTCPeerConnection`.');
    return this.#Peer;
  }

  #track(call: Call): Call {
    this.#calls.set(call.id, call);
    return call;
  }

  #route(frame: CallFrame): void {
    const call = this.#calls.get(frame.callId);
    if (!call) {
      this.#early.push(frame);
      if (this.#early.length > EARLY_FRAMES) this.#early.shift();
      return;
    }
    this.#deliver(call, frame);
  }

  #deliver(call: Call, frame: CallFrame): void {
    if (frame.type === 'call.state') call.onState(frame);
    else if (frame.type === 'call.signal') call.onSignal(frame);
    else call.end(frame.outcome);
  }

  #replayEarly(call: Call): void {
    const mine = this.#early.filter((frame) => frame.callId === call.id);
    for (const frame of mine) {
      this.#early.splice(this.#early.indexOf(frame), 1);
      this.#deliver(call, frame);
    }
  }

  /** The ICE servers for a new peer connection or an ICE restart (fetched again near expiry). */
  async #iceServers(): Promise<RTCIceServer[]> {
    const servers = await this.#ice.get();
    this.#scheduleIceRefresh();
    return servers;
  }

  /**
   * Keeps the TURN credentials of live calls fresh, so a later ICE restart or new peer can allocate. Not
   * when fresh credentials are already due (the server's clock is off): fetching again would not help.
   */
  #scheduleIceRefresh(): void {
    clearTimeout(this.#refreshTimer);
    this.#refreshTimer = undefined;
    const refreshAt = this.#ice.refreshAtMs;
    if (this.#calls.size === 0 || refreshAt === undefined) return;
    const delay = refreshAt - Date.now();
    if (delay <= 0) return;
    this.#refreshTimer = setTimeout(
      () => {
        this.#refreshTimer = undefined;
        this.#ice.get().then(
          (servers) => {
            for (const call of this.#calls.values()) call.setIceServers(servers);
            this.#scheduleIceRefresh();
          },
          () => {
            // Offline or refused: the next new peer or ICE restart fetches again.
          },
        );
      },
      Math.max(delay, 1000),
    );
  }

  #host(): CallHost {
    const realtime = this.#transport.realtime;
    const request = async (type: 'call.accept' | 'call.reject' | 'call.hangup', callId: string) =>
      realtime.request({ type, callId });
    return {
      deviceId: () => realtime.deviceId ?? '',
      userId: () => realtime.session?.userId ?? '',
      Peer: () => this.#peerConstructor(),
      iceTransportPolicy: this.#iceTransportPolicy,
      iceServers: () => this.#iceServers(),
      signal: (callId: string, toDeviceId: string, signal: CallSignal) => {
        realtime.notify({ type: 'call.signal', callId, toDeviceId, signal });
      },
      accept: (callId) => request('call.accept', callId),
      reject: (callId) => request('call.reject', callId),
      hangup: (callId) => request('call.hangup', callId),
      forget: (callId) => {
        this.#calls.delete(callId);
        if (this.#calls.size === 0) this.#scheduleIceRefresh();
      },
    };
  }
}
