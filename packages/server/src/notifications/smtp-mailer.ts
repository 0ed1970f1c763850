import {
  createTransport,
  type SMTPSentMessageInfo,
  type SMTPTransportOptions,
  type Transporter,
} from 'nodemailer';
import type { Mailer, MailMessage } from './mailer.ts';

/**
 * How a relay URL turns into a connection. Transport security is never opportunistic, because a reset link
 * sent in the clear is an account takeover for anyone on the path:
 *
 * - `smtps://user:pass@host[:465]` — TLS from the first byte (RFC 8314 implicit TLS).
 * - `smtp://user:pass@host[:587]` — STARTTLS is required; a relay that does not offer it (or a
 *   man-in-the-middle that strips it) makes every send fail instead of falling back to plain text.
 * - `smtp://host:25?tls=off` — plain text, for a relay on the same host (a local MTA) or a test server.
 *
 * Certificates are always verified. User name and password are percent-decoded. Anything else in the URL
 * is refused at start-up, so a misspelt option fails loudly instead of weakening the connection.
 */
export function smtpTransportOptions(url: string): SMTPTransportOptions {
  const parsed = new URL(url);
  const implicitTls = parsed.protocol === 'smtps:';
  if (!implicitTls && parsed.protocol !== 'smtp:')
    throw new Error('PARLEY_SMTP_URL must be smtp:// or smtps://');
  const extraKeys = [...parsed.searchParams.keys()].filter((key) => key !== 'tls');
  const tls = parsed.searchParams.get('tls') ?? (implicitTls ? 'implicit' : 'starttls');
  if (extraKeys.length > 0 || parsed.hash !== '' || !['starttls', 'off', 'implicit'].includes(tls))
    throw new Error('PARLEY_SMTP_URL takes only the option ?tls=starttls or ?tls=off');
  if (implicitTls && tls !== 'implicit') throw new Error('an smtps:// URL always uses TLS; drop ?tls=');
  if (parsed.pathname !== '' && parsed.pathname !== '/') throw new Error('PARLEY_SMTP_URL takes no path');
  const plain = tls === 'off';
  return {
    host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: parsed.port === '' ? (implicitTls ? 465 : 587) : Number(parsed.port),
    secure: implicitTls,
    requireTLS: !implicitTls && !plain,
    ignoreTLS: plain,
    tls: { minVersion: 'TLSv1.2', rejectUnauthorized: true },
    ...(parsed.username === ''
      ? {}
      : {
          auth: {
            user: decodeURIComponent(parsed.username),
            pass: decodeURIComponent(parsed.password),
          },
        }),
    // A slow relay must not hold sends (and shutdown) for the library's multi-minute defaults.
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
  };
}

/** Sends through an SMTP relay with nodemailer; one connection per message (mail here is rare). */
export class SmtpMailer implements Mailer {
  private readonly transport: Transporter<SMTPSentMessageInfo>;

  constructor(options: { url: string; from: string }) {
    this.transport = createTransport(smtpTransportOptions(options.url), { from: options.from });
  }

  async send(message: MailMessage): Promise<void> {
    await this.transport.sendMail({
      to: message.to,
      subject: message.subject,
      text: message.text,
      // RFC 3834: machine-generated, so auto-responders stay quiet.
      headers: { 'Auto-Submitted': 'auto-generated' },
    });
  }

  close(): void {
    this.transport.close();
  }
}
