import { readFileSync, statSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { z } from 'zod';

const milliseconds = (value: string): number => {
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < 1 || parsed > 600_000)
    throw new InvalidArgumentError('must be a whole number of milliseconds from 1 to 600000');
  return parsed;
};

/** A usage or credentials problem: exit 2 with the message. */
class ProbeUsageError extends Error {}

const credentialsFile = z.object({ username: z.string().min(1), password: z.string().min(1) });

/**
 * The probe account's credentials: never from the command line (it shows in `ps` and shell history), but from
 * `PARLEY_PROBE_USERNAME` / `PARLEY_PROBE_PASSWORD`, or a JSON file `{ "username", "password" }` named by
 * `--credentials-file` or `PARLEY_PROBE_CREDENTIALS_FILE` that only its owner may read.
 */
function readCredentials(file: string | undefined): { username: string; password: string } {
  const path = file ?? process.env.PARLEY_PROBE_CREDENTIALS_FILE;
  if (path !== undefined) {
    let mode: number;
    let parsed: unknown;
    try {
      mode = statSync(path).mode;
      parsed = JSON.parse(readFileSync(path, 'utf8'));
    } catch {
      throw new ProbeUsageError(`probe credentials file ${path}: cannot read it as JSON`);
    }
    if ((mode & 0o077) !== 0)
      throw new ProbeUsageError(`probe credentials file ${path}: readable by others; chmod 600 it`);
    const credentials = credentialsFile.safeParse(parsed);
    if (!credentials.success)
      throw new ProbeUsageError(`probe credentials file ${path}: must hold { "username": …, "password": … }`);
    return credentials.data;
  }
  const username = process.env.PARLEY_PROBE_USERNAME;
  const password = process.env.PARLEY_PROBE_PASSWORD;
  if (!username || !password)
    throw new ProbeUsageError(
      'probe credentials missing: set PARLEY_PROBE_USERNAME and PARLEY_PROBE_PASSWORD, or PARLEY_PROBE_CREDENTIALS_FILE',
    );
  return { username, password };
}

/**
 * Writes, then ends the process at once: a step that ran over its budget may leave a connection attempt
 * behind, which must not keep a cron job (or a systemd unit) running past its answer.
 */
async function exit(code: number, stdout: string, stderr: string): Promise<never> {
  const flushed = (stream: NodeJS.WriteStream, text: string) =>
    new Promise<void>((resolve) => {
      if (text === '') resolve();
      else
        stream.write(text, () => {
          resolve();
        });
    });
  await Promise.all([flushed(process.stdout, stdout), flushed(process.stderr, stderr)]);
  process.exit(code);
}

/**
 * `parley probe --url URL --tenant ID [--dialog ID] [--step-timeout MS] [--prometheus]`: a synthetic user
 * journey against a running server (docs/monitoring.md). Exit 0 when every step passed within its budget, 1
 * with `probe failed at <step>: <reason>` on stderr otherwise, 2 on a usage or credentials problem.
 */
export function probeCommand(): Command {
  return new Command('probe')
    .description(
      'Sign in a probe account, send a message over the realtime socket, receive it, find it by search',
    )
    .requiredOption('--url <url>', 'base URL of the server, e.g. https://chat.example.org')
    .requiredOption('--tenant <id>', 'tenant id of the probe account')
    .option('--dialog <id>', 'dialog to post in (default: the account\'s "Parley probe" group, created once)')
    .option('--step-timeout <ms>', 'time budget of each step', milliseconds, 10_000)
    .option('--credentials-file <path>', 'JSON file with username and password (mode 600)')
    .option('--prometheus', 'print the result in the Prometheus text format (textfile collector)')
    .action(
      async (options: {
        url: string;
        tenant: string;
        dialog?: string;
        stepTimeout: number;
        credentialsFile?: string;
        prometheus?: boolean;
      }) => {
        if (!/^https?:\/\/[^\s?#]+$/.test(options.url))
          return exit(
            2,
            '',
            'parley probe: --url must be an http:// or https:// URL without query or fragment\n',
          );
        let credentials: { username: string; password: string };
        try {
          credentials = readCredentials(options.credentialsFile);
        } catch (error) {
          if (!(error instanceof ProbeUsageError)) throw error;
          return exit(2, '', `parley probe: ${error.message}\n`);
        }
        const { runProbe, probeMetrics } = await import('../probe/probe-run.ts');
        const result = await runProbe({
          url: options.url,
          tenantId: options.tenant,
          ...credentials,
          ...(options.dialog === undefined ? {} : { dialogId: options.dialog }),
          stepTimeoutMs: options.stepTimeout,
        });
        const timings = result.steps
          .map((step) => `${step.step} ${Math.round(step.durationMs)} ms`)
          .join(', ');
        const failed = result.steps.find((step) => !step.ok);
        const stdout = options.prometheus ? probeMetrics(result) : result.ok ? `probe ok: ${timings}\n` : '';
        if (result.ok) return exit(0, stdout, '');
        return exit(
          1,
          stdout,
          `probe failed at ${failed?.step ?? 'start'}: ${failed?.reason ?? 'unknown'}\n`,
        );
      },
    );
}
