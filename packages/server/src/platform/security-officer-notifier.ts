import type { Mailer } from '../notifications/mailer.ts';
import type { FieldCipher } from '../crypto/field-cipher.ts';
import type { Storage } from '../storage/database.ts';
import { staffEmailAt } from './staff-service.ts';
import { staffStore } from './staff-store.ts';

/** A reminder for the operator's security officers: plain text, naming records by id only. */
export interface OfficerNotice {
  subject: string;
  text: string;
}

/** How services reach security officers; resolves with the number of mails handed to the relay. */
export interface SecurityOfficerNotifier {
  notify(notice: OfficerNotice): Promise<number>;
}

/** Officer mail is no tenant's: it carries no tenant id (the relay ignores it; no outbox stores it). */
const NO_TENANT = 'platform';

/**
 * E-mails every enrolled, active security officer through the SMTP relay (`PARLEY_SMTP_URL`), one message
 * each. Without a relay (`mailer` undefined) nothing is sent: the tenant outbox is no place for operator mail,
 * and the platform audit chain and the embedded alerting still carry the event. A failed recipient does not
 * stop the others; it is reported to `onError`. Callers send after their transaction committed.
 */
export function createSecurityOfficerNotifier(deps: {
  storage: Storage;
  /** Opens the officers' sealed addresses. */
  fieldCipher: Pick<FieldCipher, 'openForPlatform'>;
  mailer: Mailer | undefined;
  onError?: (error: unknown) => void;
}): SecurityOfficerNotifier {
  const { storage, mailer } = deps;
  return {
    async notify(notice) {
      if (mailer === undefined) return 0;
      const officers = await storage.withSystem(async (tx) => {
        const rows = await staffStore.activeWithRole(tx, 'security_officer');
        const opened = [];
        for (const row of rows)
          opened.push({ email: await deps.fieldCipher.openForPlatform(tx, staffEmailAt(row.id), row.email) });
        return opened;
      });
      let sent = 0;
      for (const officer of officers) {
        try {
          await mailer.send({
            tenantId: NO_TENANT,
            to: officer.email,
            kind: 'security_reminder',
            subject: `[Parley] ${notice.subject}`,
            text: notice.text,
          });
          sent += 1;
        } catch (error) {
          deps.onError?.(error);
        }
      }
      return sent;
    },
  };
}
