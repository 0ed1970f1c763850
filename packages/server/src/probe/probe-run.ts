import { randomBytes } from 'node:crypto';
import {
  MemoryTokenStore,
  ParleyApiError,
  ParleyAuthError,
  ParleyClient,
  RealtimeError,
} from '@parley/client';
import WebSocket from 'ws';

/** The steps of one probe run, in order (docs/monitoring.md, "Synthetic probe"). */
export const probeSteps = ['sign_in', 'dialog', 'realtime_connect', 'send_receive', 'search'] as const;
export type ProbeStep = (typeof probeSteps)[number];

export interface ProbeOptions {
  /** Base URL of the server, e.g. https://chat.example.org. */
  url: string;
  tenantId: string;
  username: string;
  password: string;
  /** The dialog to post in; else the account's group dialog named `Parley probe`, created at the first run. */
  dialogId?: string;
  /** Each step's time budget. */
  stepTimeoutMs: number;
}

export interface StepResult {
  step: ProbeStep;
  ok: boolean;
  durationMs: number;
  /** Why it failed; names no secret (the password, tokens). */
  reason?: string;
}

export interface ProbeResult {
  ok: boolean;
  steps: StepResult[];
  durationMs: number;
  finishedAt: number;
}

export const PROBE_DIALOG_NAME = 'Parley probe';

class StepFailure extends Error {}

/** Why a call failed, for an operator: the error code or network cause, never a body or a credential. */
function reasonOf(error: unknown): string {
  if (error instanceof StepFailure) return error.message;
  if (error instanceof ParleyAuthError)
    return `sign-in refused (${error.error}${error.status === undefined ? '' : `, HTTP ${error.status}`})`;
  if (error instanceof ParleyApiError) return `HTTP ${error.status} ${error.code}`;
  if (error instanceof RealtimeError) return `realtime ${error.code}`;
  if (error instanceof Error) {
    // fetch's "fetch failed" carries the network error as its cause (an AggregateError when every address
    // of the host refused).
    const cause = error.cause as { code?: unknown; errors?: { code?: unknown }[] } | undefined;
    const found = cause?.code ?? cause?.errors?.[0]?.code;
    const code = typeof found === 'string' ? found : undefined;
    if (code !== undefined) return `cannot reach the server (${code})`;
    if (cause instanceof Error) return `cannot reach the server (${cause.message})`;
    return `${error.name}: ${error.message}`;
  }
  return 'unknown error';
}

async function timed<T>(
  steps: StepResult[],
  step: ProbeStep,
  budgetMs: number,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const started = performance.now();
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new StepFailure(`exceeded its time budget of ${budgetMs} ms`));
    }, budgetMs);
  });
  try {
    const value = await Promise.race([work(controller.signal), timeout]);
    steps.push({ step, ok: true, durationMs: performance.now() - started });
    return value;
  } catch (error) {
    steps.push({ step, ok: false, durationMs: performance.now() - started, reason: reasonOf(error) });
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

const pause = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms);
  });

/**
 * One probe run: sign in, find (or create) the probe dialog, open the realtime socket, send a message with a
 * random word over it and receive it back, then find it by search. Stops at the first step that fails or
 * runs over its budget. The message is deleted afterwards (best effort), so the dialog does not grow.
 */
export async function runProbe(options: ProbeOptions): Promise<ProbeResult> {
  const started = performance.now();
  const steps: StepResult[] = [];
  const client = new ParleyClient({
    baseUrl: options.url.replace(/\/+$/, ''),
    tokenStore: new MemoryTokenStore(),
    realtime: { WebSocket },
  });
  const budget = options.stepTimeoutMs;
  const word = `probe${randomBytes(10).toString('hex')}`;
  let sent: { dialogId: string; messageId: string } | undefined;
  try {
    await timed(steps, 'sign_in', budget, async () => {
      const answer = await client.auth.signIn({
        tenantId: options.tenantId,
        username: options.username,
        password: options.password,
        scope: 'profile chat',
      });
      if (answer.mfaRequired)
        throw new StepFailure('the probe account has two-factor sign-in; use an account without it');
      if (answer.notice !== undefined)
        throw new StepFailure(`the account must act first (${answer.notice}); sign in with it once by hand`);
    });
    const dialogId = await timed(steps, 'dialog', budget, async () => {
      if (options.dialogId !== undefined) return (await client.dialogs.get(options.dialogId)).id;
      for await (const dialog of client.dialogs.all())
        if (dialog.type === 'group' && dialog.name === PROBE_DIALOG_NAME) return dialog.id;
      return (await client.dialogs.create({ type: 'group', name: PROBE_DIALOG_NAME, memberIds: [] })).id;
    });
    await timed(steps, 'realtime_connect', budget, async () => {
      client.realtime.connect();
      await client.realtime.whenReady();
    });
    const messageId = await timed(steps, 'send_receive', budget, async () => {
      let stop: () => void = () => undefined;
      const received = new Promise<string>((resolve) => {
        stop = client.realtime.on('message.new', (frame) => {
          if (frame.message.dialogId === dialogId && frame.message.body?.includes(word))
            resolve(frame.message.id);
        });
      });
      try {
        const ack = await client.realtime.send(dialogId, `Parley probe ${word}`);
        sent = { dialogId, messageId: ack.messageId };
        const id = await received;
        if (id !== ack.messageId) throw new StepFailure('the message received is not the one acknowledged');
        return id;
      } finally {
        stop();
      }
    });
    await timed(steps, 'search', budget, async (signal) => {
      // The search entry commits with the message; a short retry covers a replica that lags.
      for (;;) {
        const page = await client.search.messages({ q: word, dialogId });
        if (page.results.some((result) => result.message.id === messageId)) return;
        if (signal.aborted) return;
        await pause(200);
      }
    });
  } catch {
    // Recorded in `steps`.
  } finally {
    client.realtime.close();
    if (sent !== undefined)
      await client.messages.delete(sent.dialogId, sent.messageId, 'everyone').catch(() => undefined);
  }
  return {
    ok: steps.length === probeSteps.length && steps.every((step) => step.ok),
    steps,
    durationMs: performance.now() - started,
    finishedAt: Date.now(),
  };
}

/** The run in the Prometheus text format, for node_exporter's textfile collector. */
export function probeMetrics(result: ProbeResult): string {
  const seconds = (ms: number) => (ms / 1000).toFixed(3);
  const lines = [
    '# HELP parley_probe_success Whether the last probe run passed every step (1) or not (0).',
    '# TYPE parley_probe_success gauge',
    `parley_probe_success ${result.ok ? 1 : 0}`,
    '# HELP parley_probe_step_success Whether a step of the last probe run passed (1), failed (0); absent when not reached.',
    '# TYPE parley_probe_step_success gauge',
    ...result.steps.map((step) => `parley_probe_step_success{step="${step.step}"} ${step.ok ? 1 : 0}`),
    '# HELP parley_probe_step_duration_seconds How long each step of the last probe run took.',
    '# TYPE parley_probe_step_duration_seconds gauge',
    ...result.steps.map(
      (step) => `parley_probe_step_duration_seconds{step="${step.step}"} ${seconds(step.durationMs)}`,
    ),
    '# HELP parley_probe_duration_seconds How long the last probe run took.',
    '# TYPE parley_probe_duration_seconds gauge',
    `parley_probe_duration_seconds ${seconds(result.durationMs)}`,
    '# HELP parley_probe_last_run_timestamp_seconds When the last probe run finished (Unix time).',
    '# TYPE parley_probe_last_run_timestamp_seconds gauge',
    `parley_probe_last_run_timestamp_seconds ${Math.floor(result.finishedAt / 1000)}`,
  ];
  return `${lines.join('\n')}\n`;
}
