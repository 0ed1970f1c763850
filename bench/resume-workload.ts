import type { HttpTarget } from './bench-http.js';
import type { OpenLoopWorkload, TrialProbe } from './open-loop.js';
import { LeanSocket, type ServerFrame } from './realtime-client.js';

/** A member coming back: the position it resumes from and the position it has caught up at. */
export interface ResumeTarget {
  token: string;
  dialogId: string;
  epoch: string;
  /** The last `seq` it saw before it went away. */
  from: number;
  /** The highest `seq` it can see in the dialog now: caught up when a frame at or past it arrives. */
  until: number;
}

const sequencedIn = (frame: ServerFrame, dialogId: string): number | undefined =>
  'seq' in frame && 'dialogId' in frame && frame.dialogId === dialogId ? frame.seq : undefined;

/**
 * Resume after a disconnect, open loop: each operation is a device reconnecting — a new socket (TLS
 * handshake, upgrade), `auth` with its resume position, and the replay of what it missed — timed from the
 * scheduled start to the frame at its `until` position; the socket then closes. Targets are used in turn.
 */
export class ResumeWorkload implements OpenLoopWorkload {
  readonly #open = new Set<{ socket?: LeanSocket }>();
  #next = 0;

  constructor(
    private readonly server: HttpTarget,
    private readonly targets: readonly ResumeTarget[],
  ) {}

  start(scheduledAt: number, probe: TrialProbe): number {
    const target = this.targets[this.#next];
    this.#next = (this.#next + 1) % this.targets.length;
    if (!target) return 0;
    const attempt: { socket?: LeanSocket } = {};
    this.#open.add(attempt);
    let caughtUp = false;
    const onFrame = (frame: ServerFrame, at: number) => {
      if (frame.type === 'error') probe.failed(frame.code);
      if (frame.type === 'resync') probe.failed('resync');
      if (caughtUp || (sequencedIn(frame, target.dialogId) ?? -1) < target.until) return;
      caughtUp = true;
      probe.arrived(scheduledAt, at);
      attempt.socket?.close();
    };
    LeanSocket.connect(this.server.url, this.server.ca, target.token, {
      positions: { [target.dialogId]: { seq: target.from, epoch: target.epoch } },
      onFrame,
    }).then(
      (socket) => {
        attempt.socket = socket;
        socket.ws.once('close', (code: number) => {
          this.#open.delete(attempt);
          if (!caughtUp) probe.failed(`close ${code}`);
        });
        if (caughtUp) socket.close();
      },
      (error: unknown) => {
        this.#open.delete(attempt);
        probe.failed(error instanceof Error ? error.message : String(error));
      },
    );
    return 1;
  }

  pending(): number {
    return this.#open.size;
  }

  forget(): void {
    for (const attempt of this.#open) attempt.socket?.ws.terminate();
    this.#open.clear();
  }
}

/**
 * Where a member is caught up after resuming `dialogId` from `from`: one resume, watched until no frame has
 * come for `quietMs`. Taken once per target before the trials, as the highest `seq` this member is shown
 * (hidden entries and events make it differ from the dialog's last `seq`).
 */
export async function caughtUpPosition(
  server: HttpTarget,
  target: Omit<ResumeTarget, 'until'>,
  quietMs = 300,
): Promise<{ until: number; frames: number }> {
  let until = target.from;
  let frames = 0;
  let quiet: () => void = () => undefined;
  let timer: NodeJS.Timeout | undefined;
  const settled = new Promise<void>((resolve) => {
    quiet = resolve;
  });
  const rearm = () => {
    clearTimeout(timer);
    timer = setTimeout(quiet, quietMs);
  };
  const socket = await LeanSocket.connect(server.url, server.ca, target.token, {
    positions: { [target.dialogId]: { seq: target.from, epoch: target.epoch } },
    onFrame: (frame) => {
      const seq = sequencedIn(frame, target.dialogId);
      if (seq === undefined) return;
      frames += 1;
      until = Math.max(until, seq);
      rearm();
    },
  });
  rearm();
  await settled;
  socket.close();
  return { until, frames };
}
