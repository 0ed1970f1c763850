import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SmtpMailer, smtpTransportOptions } from '../../src/notifications/smtp-mailer.ts';
import { type SmtpSink, startSmtpSink } from '../support/smtp-sink.ts';

/**
 * Attack: someone on the path to the relay strips STARTTLS from its greeting so that reset links travel in
 * the clear. The mailer must refuse to send rather than fall back, unless the operator said `?tls=off`.
 */
describe('SMTP relay URLs', () => {
  it('uses implicit TLS for smtps:// and requires STARTTLS for smtp://', () => {
    expect(smtpTransportOptions('smtps://mail.example.org')).toMatchObject({
      host: 'mail.example.org',
      port: 465,
      secure: true,
      requireTLS: false,
      ignoreTLS: false,
    });
    expect(smtpTransportOptions('smtp://mail.example.org')).toMatchObject({
      port: 587,
      secure: false,
      requireTLS: true,
      ignoreTLS: false,
    });
    expect(smtpTransportOptions('smtp://mail.example.org:2525?tls=starttls')).toMatchObject({
      port: 2525,
      requireTLS: true,
    });
    expect(smtpTransportOptions('smtp://127.0.0.1:25?tls=off')).toMatchObject({
      requireTLS: false,
      ignoreTLS: true,
    });
  });

  it('percent-decodes the credentials', () => {
    expect(smtpTransportOptions('smtps://relay%40example.org:p%3Ass%2Fw@mail.example.org').auth).toEqual({
      user: 'relay@example.org',
      pass: 'p:ss/w',
    });
  });

  it('refuses options it does not know, and plain text on smtps://', () => {
    for (const url of [
      'smtp://mail.example.org?tls=maybe',
      'smtp://mail.example.org?rejectUnauthorized=false',
      'smtps://mail.example.org?tls=off',
      'smtp://mail.example.org/path',
    ])
      expect(() => smtpTransportOptions(url), url).toThrow();
  });
});

describe('SmtpMailer against a relay without STARTTLS', () => {
  let sink: SmtpSink;

  beforeAll(async () => {
    sink = await startSmtpSink();
  });

  afterAll(async () => {
    await sink.close();
  });

  const message = {
    tenantId: '00000000-0000-7000-8000-000000000000',
    to: 'alice@example.org',
    subject: 'Hello',
    text: 'A secret link',
    kind: 'password_reset' as const,
  };

  it('refuses to send in the clear when the URL asks for STARTTLS', async () => {
    const mailer = new SmtpMailer({
      url: `smtp://127.0.0.1:${sink.port}`,
      from: 'Parley <no-reply@localhost>',
    });
    await expect(mailer.send(message)).rejects.toThrow();
    mailer.close();
    expect(sink.mails).toHaveLength(0);
  });

  it('sends in plain text only when the URL says ?tls=off', async () => {
    const mailer = new SmtpMailer({ url: sink.url, from: 'Parley <no-reply@localhost>' });
    await mailer.send(message);
    mailer.close();
    expect(sink.to('alice@example.org')).toMatchObject([
      { subject: 'Hello', from: '"Parley" <no-reply@localhost>', text: 'A secret link\n' },
    ]);
    expect(sink.mails[0]?.headers.get('auto-submitted')).toBe('auto-generated');
  });
});
