import type { CallSignal } from '@parley/protocol';

/** What a {@link PeerLink} needs from its call. */
export interface PeerLinkHost {
  /** Sends a signal to the remote device (a `call.signal` frame). */
  signal(signal: CallSignal): void;
  /** The local tracks to send, with their stream. */
  localTracks(): readonly { track: MediaStreamTrack; stream: MediaStream }[];
  /** Media kinds to receive even without a local track of that kind (`audio`, and `video` for video calls). */
  kinds(): readonly ('audio' | 'video')[];
  track(track: MediaStreamTrack, streams: readonly MediaStream[]): void;
  state(state: RTCPeerConnectionState): void;
  /** A negotiation step failed (reported, the link stays up: a later offer or an ICE restart may recover). */
  failed(error: unknown): void;
}

/**
 * One RTCPeerConnection to one remote device, negotiated with the "perfect negotiation" pattern: either side
 * may offer at any time (`negotiationneeded`: a track added or removed, an ICE restart); on glare the polite
 * side (the larger device id) rolls back and answers, the impolite side ignores the colliding offer.
 */
export class PeerLink {
  readonly pc: RTCPeerConnection;
  readonly #host: PeerLinkHost;
  readonly #polite: boolean;
  #makingOffer = false;
  #ignoreOffer = false;
  #tracksAttached = false;
  #queue: Promise<void> = Promise.resolve();
  #closed = false;

  /**
   * `offerer`: this side sends the first offer (its tracks are attached now, which fires
   * `negotiationneeded`); otherwise the tracks are attached while answering the remote's first offer.
   */
  constructor(
    Peer: typeof RTCPeerConnection,
    configuration: RTCConfiguration,
    options: { polite: boolean; offerer: boolean },
    host: PeerLinkHost,
  ) {
    this.#host = host;
    this.#polite = options.polite;
    this.pc = new Peer(configuration);
    this.pc.onnegotiationneeded = () => {
      void this.#offer();
    };
    this.pc.onicecandidate = ({ candidate }) => {
      if (this.#closed) return;
      this.#host.signal({ type: 'candidate', candidate: candidate ? candidateJson(candidate) : null });
    };
    this.pc.ontrack = ({ track, streams }) => {
      this.#host.track(track, streams);
    };
    this.pc.onconnectionstatechange = () => {
      this.#host.state(this.pc.connectionState);
    };
    if (options.offerer) this.#attachTracks(true);
  }

  /** Handles a signal from the remote device, in arrival order. */
  receive(signal: CallSignal): Promise<void> {
    const step = this.#queue.then(() => this.#receive(signal));
    this.#queue = step.catch((error: unknown) => {
      if (!this.#isClosed()) this.#host.failed(error);
    });
    return this.#queue;
  }

  /** Adds a track to send (renegotiates through `negotiationneeded`). */
  addTrack(track: MediaStreamTrack, stream: MediaStream): void {
    if (this.#tracksAttached) this.pc.addTrack(track, stream);
  }

  /** Stops sending a track (renegotiates through `negotiationneeded`). */
  removeTrack(track: MediaStreamTrack): void {
    const sender = this.pc.getSenders().find((each) => each.track === track);
    if (sender) this.pc.removeTrack(sender);
  }

  /** New ICE credentials and candidates (with the given servers): a new offer follows. */
  restartIce(iceServers: RTCIceServer[] | undefined): void {
    if (iceServers) this.setIceServers(iceServers);
    this.pc.restartIce();
  }

  setIceServers(iceServers: RTCIceServer[]): void {
    this.pc.setConfiguration({ ...this.pc.getConfiguration(), iceServers });
  }

  /** Read through a method: the flag changes across awaits, which type narrowing does not see. */
  #isClosed(): boolean {
    return this.#closed;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.pc.onnegotiationneeded = null;
    this.pc.onicecandidate = null;
    this.pc.ontrack = null;
    this.pc.onconnectionstatechange = null;
    this.pc.close();
  }

  async #offer(): Promise<void> {
    if (this.#closed) return;
    try {
      this.#makingOffer = true;
      await this.pc.setLocalDescription();
      const local = this.pc.localDescription;
      if (local?.type === 'offer') this.#host.signal({ type: 'offer', sdp: local.sdp });
    } catch (error) {
      if (!this.#isClosed()) this.#host.failed(error);
    } finally {
      this.#makingOffer = false;
    }
  }

  async #receive(signal: CallSignal): Promise<void> {
    if (this.#closed) return;
    if (signal.type === 'candidate') {
      try {
        if (signal.candidate) await this.pc.addIceCandidate(signal.candidate);
        else await this.pc.addIceCandidate();
      } catch (error) {
        // Candidates of an offer this side ignored fail to apply: expected, not an error.
        if (!this.#ignoreOffer && signal.candidate) throw error;
      }
      return;
    }
    const collision = signal.type === 'offer' && (this.#makingOffer || this.pc.signalingState !== 'stable');
    this.#ignoreOffer = !this.#polite && collision;
    if (this.#ignoreOffer) return;
    await this.pc.setRemoteDescription({ type: signal.type, sdp: signal.sdp });
    if (signal.type !== 'offer') return;
    // The first offer created receiving transceivers: the local tracks take them (sendrecv in the answer).
    if (!this.#tracksAttached) this.#attachTracks(false);
    await this.pc.setLocalDescription();
    const sdp = this.pc.localDescription?.sdp;
    if (sdp) this.#host.signal({ type: 'answer', sdp });
  }

  #attachTracks(offerer: boolean): void {
    this.#tracksAttached = true;
    const tracks = this.#host.localTracks();
    for (const { track, stream } of tracks) this.pc.addTrack(track, stream);
    if (!offerer) return;
    // Receive every kind of the call even without a local track of it (a listener, camera off).
    for (const kind of this.#host.kinds())
      if (!tracks.some(({ track }) => track.kind === kind))
        this.pc.addTransceiver(kind, { direction: 'recvonly' });
  }
}

/** The candidate as the protocol carries it (only the fields it allows). */
function candidateJson(candidate: RTCIceCandidate) {
  const json = candidate.toJSON();
  return {
    candidate: json.candidate ?? '',
    ...(json.sdpMid === undefined ? {} : { sdpMid: json.sdpMid }),
    ...(json.sdpMLineIndex === undefined ? {} : { sdpMLineIndex: json.sdpMLineIndex }),
    ...(json.usernameFragment === undefined ? {} : { usernameFragment: json.usernameFragment }),
  };
}
