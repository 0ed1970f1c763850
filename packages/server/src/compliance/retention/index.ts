import type { Clock } from '../../clock.ts';
import type { FieldCipher } from '../../crypto/field-cipher.ts';
import type { MessageAttachments } from '../../messaging/message-attachments.ts';
import type { MessageFanout } from '../../messaging/message-fanout.ts';
import type { MessageIndex } from '../../messaging/message-index.ts';
import type { Storage, TenantTx } from '../../storage/database.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { createLegalHoldService } from './legal-hold-service.ts';
import { retentionTargets } from './retention-targets.ts';
import { createRetentionService } from './retention-service.ts';
import { createRetentionSweeper } from './retention-sweeper.ts';

export { retentionRoutes } from './retention-routes.ts';
export type { LegalHoldService } from './legal-hold-service.ts';
export type { RetentionService } from './retention-service.ts';
export type { RetentionSweeper } from './retention-sweeper.ts';

/**
 * Retention (issue 14), wired once by app-services.ts: the rules, legal holds and the sweeper. `app.ts`
 * registers `sweeper.task()` with the scheduler and `retentionRoutes` with the HTTP server.
 */
export function createRetention(deps: {
  storage: Storage;
  clock: Clock;
  audit: AuditLog;
  fieldCipher: FieldCipher;
  fanout: MessageFanout;
  index: MessageIndex;
  attachments: MessageAttachments;
  eraseAttachments: (tx: TenantTx, tenantId: string, ids: readonly string[]) => Promise<number>;
}) {
  const { storage, clock, audit } = deps;
  const legalHolds = createLegalHoldService({
    storage,
    clock,
    audit,
    fieldCipher: deps.fieldCipher,
    targetExists: (tx, tenantId, type, id) => retentionTargets.exists(tx, tenantId, type, id),
  });
  const retention = createRetentionService({
    storage,
    clock,
    audit,
    dialogExists: (tx, tenantId, dialogId) => retentionTargets.exists(tx, tenantId, 'dialog', dialogId),
    managesDialog: (tx, tenantId, dialogId, userId) =>
      retentionTargets.managesDialog(tx, tenantId, dialogId, userId),
  });
  const retentionSweeper = createRetentionSweeper({
    storage,
    clock,
    audit,
    rules: retention,
    holds: legalHolds,
    fanout: deps.fanout,
    index: deps.index,
    attachments: deps.attachments,
    eraseAttachments: deps.eraseAttachments,
  });
  return { legalHolds, retention, retentionSweeper };
}
