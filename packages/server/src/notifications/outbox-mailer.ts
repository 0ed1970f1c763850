import type { Clock } from '../clock.ts';
import type { FieldCipher, FieldLocation } from '../crypto/field-cipher.ts';
import { newId } from '../ids.ts';
import type { Storage, TenantTx } from '../storage/database.ts';
import type { Mailer, MailKind, MailMessage } from './mailer.ts';
import { outboxStore } from './outbox-store.ts';

/** An outbox message as an admin reads it: an explicit field list, opened. */
export interface OutboxMessage {
  id: string;
  to: string;
  subject: string;
  text: string;
  kind: MailKind;
  createdAt: string;
}

type SealedColumn = 'recipient' | 'subject' | 'body';

const at = (tenantId: string, rowId: string, column: SealedColumn): FieldLocation => ({
  tenantId,
  table: 'mail_outbox',
  column,
  rowId,
});

/**
 * The embedded default when no SMTP relay is configured: each message is kept in `mail_outbox`, recipient,
 * subject and body sealed under the tenant's data key, for an admin to read and pass on.
 *
 * `send` opens its own tenant transaction. Call it only after the caller's transaction has committed,
 * never from inside one: on SQLite there is one connection, so a nested transaction would wait forever
 * for the outer one to finish.
 */
export class OutboxMailer implements Mailer {
  constructor(private readonly deps: { storage: Storage; fieldCipher: FieldCipher; clock: Clock }) {}

  async send(message: MailMessage): Promise<void> {
    const { storage, fieldCipher, clock } = this.deps;
    await storage.withTenant(message.tenantId, async (tx) => {
      const id = newId();
      const seal = (column: SealedColumn, value: string) =>
        fieldCipher.sealForTenant(tx, at(message.tenantId, id, column), value);
      await outboxStore.insert(tx, {
        id,
        tenant_id: message.tenantId,
        recipient: await seal('recipient', message.to),
        subject: await seal('subject', message.subject),
        body: await seal('body', message.text),
        kind: message.kind,
        created_at: clock.now(),
        sent_at: null,
      });
    });
  }
}

/** The tenant's newest outbox messages, opened, inside the caller's transaction (which audits the read). */
export async function readOutbox(
  tx: TenantTx,
  fieldCipher: FieldCipher,
  tenantId: string,
  limit: number,
): Promise<OutboxMessage[]> {
  const rows = await outboxStore.latest(tx, tenantId, limit);
  return Promise.all(
    rows.map(async (row) => {
      const open = (column: SealedColumn, envelope: string) =>
        fieldCipher.open(tx, at(tenantId, row.id, column), envelope);
      return {
        id: row.id,
        to: await open('recipient', row.recipient),
        subject: await open('subject', row.subject),
        text: await open('body', row.body),
        kind: row.kind as MailKind,
        createdAt: new Date(row.created_at).toISOString(),
      };
    }),
  );
}
