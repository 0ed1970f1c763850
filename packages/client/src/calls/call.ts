import type { CallParticipantView, CallSignal } from '@parley/protocol';
import type { ServerFrameOf } from '../realtime/realtime-frames.ts';
import { TypedEmitter } from '../realtime/typed-emitter.ts';
import type { CallEndReason, CallEvents, RemoteDevice } from './call-events.ts';
import { PeerLink } from './peer-link.ts';

/** What a {@link Call} needs from the calls module. */
export interface CallHost {
  /** This connection's device id. */
  deviceId(): string;
  userId(): string;
  Peer(): typeof RTCPeerConnection;
  iceTransportPolicy: RTCIceTransportPolicy | undefined;
  iceServers(): Promise<RTCIceServer[]>;
  signal(callId: string, toDeviceId: string, signal: CallSignal): void;
  hangup(callId: string): Promise<unknown>;
  accept(callId: string): Promise<unknown>;
  reject(callId: string): Promise<unknown>;
  /** The call ended: the module forgets it. */
  forget(callId: string): void;
}

/**
 * `incoming`: ringing on this device; `outgoing`: started here, ringing the others; `active`: this device is
 * in the call; `ended`: over for this device (see {@link CallEvents.ended}).
 */
export type CallPhase = 'incoming' | 'outgoing' | 'active' | 'ended';

/**
 * One call as this device sees it: its participants, a peer connection per remote device that joined (a full
 * mesh), and the local media sent to all of them. Offers go from the newer device to the devices that had
 * joined before it, except that the caller's device offers to every device that joins; glare is resolved by
 * perfect negotiation either way.
 */
export class Call {
  readonly id: string;
  readonly callerId: string;
  readonly media: 'audio' | 'video';
  readonly dialogId: string | null;
  readonly #host: CallHost;
  readonly #events = new TypedEmitter<CallEvents>();
  readonly #peers = new Map<string, { link: PeerLink; remote: RemoteDevice }>();
  readonly #local: { track: MediaStreamTrack; stream: MediaStream }[] = [];
  /** Remote devices joined as of the last `call.state`. */
  readonly #remotes = new Map<string, RemoteDevice>();
  #phase: CallPhase;
  #participants: CallParticipantView[] = [];
  /** Remote devices already joined when this device joined (this device offers to them). */
  #joinedBefore: Set<string> | undefined;
  #pending: Promise<void> = Promise.resolve();
  #endedWith: CallEndReason | undefined;

  constructor(
    host: CallHost,
    info: { id: string; callerId: string; media: 'audio' | 'video'; dialogId: string | null },
    phase: 'incoming' | 'outgoing',
  ) {
    this.#host = host;
    this.id = info.id;
    this.callerId = info.callerId;
    this.media = info.media;
    this.dialogId = info.dialogId;
    this.#phase = phase;
  }

  get phase(): CallPhase {
    return this.#phase;
  }

  /** The participants as of the last `call.state`. */
  get participants(): readonly CallParticipantView[] {
    return this.#participants;
  }

  /** The peer connection to each remote device, by device id (for `getStats()` and the like). */
  get peers(): ReadonlyMap<string, RTCPeerConnection> {
    return new Map([...this.#peers].map(([deviceId, peer]) => [deviceId, peer.link.pc]));
  }

  on<K extends keyof CallEvents>(type: K, listener: (event: CallEvents[K]) => void): () => void {
    return this.#events.on(type, listener);
  }

  /** Resolves when the call ends for this device, with why. */
  whenEnded(): Promise<CallEvents['ended']> {
    return new Promise((resolve) => {
      if (this.#phase === 'ended') resolve({ outcome: this.#endedWith ?? 'completed' });
      else this.on('ended', resolve);
    });
  }

  /** Accepts a ringing call on this device, sending the tracks of `stream` (if any). */
  async accept(options: { stream?: MediaStream } = {}): Promise<void> {
    if (this.#phase !== 'incoming') throw new Error(`The call is ${this.#phase}, not incoming.`);
    if (options.stream) this.useStream(options.stream);
    await this.#host.accept(this.id);
  }

  /** Rejects a ringing call (for all of this user's devices). */
  async reject(): Promise<void> {
    await this.#host.reject(this.id);
    this.end('rejected');
  }

  /** Leaves the call (the caller hanging up while it rings cancels it); a call ringing here is rejected. */
  async hangup(): Promise<void> {
    if (this.#phase === 'ended') return;
    if (this.#phase === 'incoming') {
      await this.reject();
      return;
    }
    const wasActive = this.#participants.some(
      (entry) => entry.state === 'joined' && entry.userId !== this.#host.userId(),
    );
    await this.#host.hangup(this.id);
    this.end(wasActive ? 'completed' : 'cancelled');
  }

  /** Sends every track of `stream` to every remote device (now and to devices joining later). */
  useStream(stream: MediaStream): void {
    for (const track of stream.getTracks()) this.addTrack(track, stream);
  }

  /** Sends one more track (camera on, screen share): each peer connection renegotiates with a new offer. */
  addTrack(track: MediaStreamTrack, stream: MediaStream): void {
    if (this.#local.some((entry) => entry.track === track)) return;
    this.#local.push({ track, stream });
    for (const { link } of this.#peers.values()) link.addTrack(track, stream);
  }

  /** Stops sending a track (camera off): each peer connection renegotiates. */
  removeTrack(track: MediaStreamTrack): void {
    const index = this.#local.findIndex((entry) => entry.track === track);
    if (index >= 0) this.#local.splice(index, 1);
    for (const { link } of this.#peers.values()) link.removeTrack(track);
  }

  /**
   * Restarts ICE on every peer connection (after `failed`, or a network change), with ICE servers fetched
   * again when the TURN credentials are near their expiry: each sends a new offer with new ICE credentials.
   */
  async restartIce(): Promise<void> {
    const iceServers = await this.#host.iceServers();
    for (const { link } of this.#peers.values()) link.restartIce(iceServers);
  }

  /** New TURN credentials for the peer connections (used by later ICE gathering). */
  setIceServers(iceServers: RTCIceServer[]): void {
    for (const { link } of this.#peers.values()) link.setIceServers(iceServers);
  }

  /** @internal A `call.state` for this call. */
  onState(frame: ServerFrameOf<'call.state'>): void {
    if (this.#phase === 'ended') return;
    this.#participants = frame.participants;
    const me = this.#host.deviceId();
    const mine = frame.participants.find((entry) => entry.userId === this.#host.userId());
    const joinedHere = mine?.state === 'joined' && mine.deviceId === me;
    // The caller's device is joined from the start: the call is active once someone else joins too.
    if (joinedHere && frame.state === 'active') this.#phase = 'active';
    this.#events.emit('state', frame);
    if (this.#phase === 'incoming' && mine && mine.state !== 'ringing' && !joinedHere) {
      // Settled on another device of this user: taken there, or declined, missed or busy.
      this.end(
        mine.state === 'joined' ? 'answered_elsewhere' : mine.state === 'left' ? 'completed' : mine.state,
      );
      return;
    }
    if (this.#phase !== 'active') return;
    if (!joinedHere) {
      // The server took this device out of the call (e.g. it judged the device gone).
      this.end('completed');
      return;
    }
    const joined = frame.participants.filter(
      (entry): entry is CallParticipantView & { deviceId: string } =>
        entry.state === 'joined' && entry.deviceId !== null && entry.deviceId !== me,
    );
    this.#joinedBefore ??= new Set(joined.map((entry) => entry.deviceId));
    for (const entry of joined) {
      const remote = { userId: entry.userId, deviceId: entry.deviceId };
      if (!this.#remotes.has(remote.deviceId)) {
        this.#remotes.set(remote.deviceId, remote);
        this.#events.emit('participant.joined', remote);
      }
      if (!this.#peers.has(remote.deviceId) && this.#offersTo(remote))
        this.#serially(() => this.#connect(remote, true));
    }
    for (const [deviceId, remote] of this.#remotes) {
      if (joined.some((entry) => entry.deviceId === deviceId)) continue;
      this.#remotes.delete(deviceId);
      this.#drop(deviceId);
      this.#events.emit('participant.left', remote);
    }
  }

  /** @internal A `call.signal` from a remote device of this call. */
  onSignal(frame: ServerFrameOf<'call.signal'>): void {
    if (this.#phase !== 'active') return;
    const remote = { userId: frame.fromUserId, deviceId: frame.fromDeviceId };
    this.#serially(async () => {
      if (this.#phase !== 'active') return;
      const peer = this.#peers.get(remote.deviceId) ?? (await this.#connect(remote, false));
      await peer?.link.receive(frame.signal);
    });
  }

  /** @internal Ends the call for this device (idempotent): closes every peer connection. */
  end(outcome: CallEndReason): void {
    if (this.#phase === 'ended') return;
    this.#phase = 'ended';
    this.#endedWith = outcome;
    for (const deviceId of [...this.#peers.keys()]) this.#drop(deviceId);
    this.#host.forget(this.id);
    this.#events.emit('ended', { outcome });
    this.#events.clear();
  }

  /**
   * The caller's device offers to every device that joins; any other device offers to the devices that had
   * joined before it (except the caller's, which offers to it).
   */
  #offersTo(remote: RemoteDevice): boolean {
    if (this.callerId === this.#host.userId()) return true;
    if (remote.userId === this.callerId) return false;
    return this.#joinedBefore?.has(remote.deviceId) ?? false;
  }

  /** Peer set-up waits for the ICE servers: one step at a time, so a signal never races its peer's creation. */
  #serially(step: () => Promise<unknown>): void {
    this.#pending = this.#pending.then(step).then(
      () => undefined,
      () => undefined,
    );
  }

  async #connect(remote: RemoteDevice, offerer: boolean) {
    const existing = this.#peers.get(remote.deviceId);
    if (existing) return existing;
    const iceServers = await this.#host.iceServers();
    if (this.#phase !== 'active') return undefined;
    const policy = this.#host.iceTransportPolicy;
    const peer = {
      remote,
      link: new PeerLink(
        this.#host.Peer(),
        { iceServers, ...(policy === undefined ? {} : { iceTransportPolicy: policy }) },
        { polite: this.#host.deviceId() > remote.deviceId, offerer },
        {
          signal: (signal) => {
            this.#host.signal(this.id, remote.deviceId, signal);
          },
          localTracks: () => this.#local,
          kinds: () => (this.media === 'video' ? ['audio', 'video'] : ['audio']),
          track: (track, streams) => {
            this.#events.emit('track', { ...remote, track, streams });
          },
          state: (state) => {
            this.#events.emit('peer.state', { ...remote, state });
          },
          failed: (error) => {
            this.#events.emit('peer.error', { ...remote, error });
          },
        },
      ),
    };
    this.#peers.set(remote.deviceId, peer);
    return peer;
  }

  #drop(deviceId: string): void {
    const peer = this.#peers.get(deviceId);
    if (!peer) return;
    this.#peers.delete(deviceId);
    peer.link.close();
  }
}
