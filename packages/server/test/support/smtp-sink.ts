import type { AddressInfo } from 'node:net';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

/** One message as the relay received it. */
export interface ReceivedMail {
  /** Envelope recipients (RCPT TO), lower-cased. */
  to: string[];
  from: string;
  subject: string;
  text: string;
  headers: Map<string, unknown>;
}

/** A real SMTP server in-process on 127.0.0.1, port 0, that keeps every message it accepts. */
export interface SmtpSink {
  port: number;
  /** `PARLEY_SMTP_URL` for it: plain text, because this test relay offers no STARTTLS. */
  url: string;
  readonly mails: ReceivedMail[];
  /** Mails to `address` whose subject matches. */
  to(address: string, subject?: RegExp): ReceivedMail[];
  clear(): void;
  close(): Promise<void>;
}

/**
 * Starts the sink. A message is parsed and recorded before the server answers 250, so once the sender's
 * `send` resolved (and the app's mail drained) the mail is already here: no polling needed.
 */
export async function startSmtpSink(): Promise<SmtpSink> {
  const mails: ReceivedMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      simpleParser(stream).then(
        (parsed) => {
          mails.push({
            to: session.envelope.rcptTo.map((recipient) => recipient.address.toLowerCase()),
            from: parsed.from?.text ?? '',
            subject: parsed.subject ?? '',
            text: parsed.text ?? '',
            headers: parsed.headers,
          });
          callback();
        },
        (error: unknown) => {
          callback(error instanceof Error ? error : new Error('unparseable message'));
        },
      );
    },
  });
  await new Promise<void>((resolve) => {
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.server.address() as AddressInfo;
  return {
    port,
    url: `smtp://127.0.0.1:${port}?tls=off`,
    mails,
    to: (address, subject) =>
      mails.filter(
        (mail) =>
          mail.to.includes(address.toLowerCase()) && (subject === undefined || subject.test(mail.subject)),
      ),
    clear() {
      mails.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(resolve);
      }),
  };
}
