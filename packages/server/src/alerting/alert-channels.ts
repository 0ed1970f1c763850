import { randomUUID } from 'node:crypto';
import { createTransport } from 'nodemailer';
import { smtpTransportOptions } from '../notifications/smtp-mailer.ts';
import { type AlertChannel, type AlertNotice, noticeSubject, noticeText } from './alert-notice.ts';
import { SIGNATURE_HEADER, signAlertBody } from './alert-signature.ts';

/**
 * Operators' mail goes through the same relay as the rest of Parley's mail (`PARLEY_SMTP_URL`, with its TLS
 * rules) — not through the tenant outbox, which only a tenant's admin reads.
 */
export function emailChannel(options: {
  smtpUrl: string;
  from: string;
  to: readonly string[];
}): AlertChannel {
  const transport = createTransport(smtpTransportOptions(options.smtpUrl), { from: options.from });
  return {
    name: 'email',
    async deliver(notice) {
      await transport.sendMail({
        to: [...options.to],
        subject: noticeSubject(notice),
        text: noticeText(notice),
        headers: { 'Auto-Submitted': 'auto-generated' },
      });
    },
  };
}

/** The JSON a webhook receives (docs/monitoring.md). */
export function webhookBody(notice: AlertNotice, delivery: string): string {
  return JSON.stringify({ version: 1, delivery, ...notice });
}

/**
 * POSTs each notice as JSON, signed (`parley-signature`, see alert-signature.ts) with the shared secret; each
 * attempt has a fresh `delivery` id, also in the `parley-delivery` header. Anything but a 2xx answer within
 * ten seconds is a failed delivery, tried again at the next evaluation.
 */
export function webhookChannel(options: {
  url: string;
  secret: string;
  now: () => number;
  fetch?: typeof fetch;
}): AlertChannel {
  const send = options.fetch ?? fetch;
  return {
    name: 'webhook',
    async deliver(notice) {
      const delivery = randomUUID();
      const body = webhookBody(notice, delivery);
      const response = await send(options.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'parley-delivery': delivery,
          [SIGNATURE_HEADER]: signAlertBody(options.secret, body, Math.floor(options.now() / 1000)),
        },
        body,
        redirect: 'error',
        signal: AbortSignal.timeout(10_000),
      });
      await response.body?.cancel();
      if (!response.ok) throw new Error(`webhook answered ${response.status}`);
    },
  };
}
