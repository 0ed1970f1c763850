import type { DialogRetentionRules, DialogRetentionView } from '@parley/protocol';
import { AppError } from '../../app-error.ts';
import type { Clock } from '../../clock.ts';
import type { Storage, TenantTx } from '../../storage/database.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { HoldActor } from './legal-hold-service.ts';
import {
  applyUpdate,
  effectiveDialogRules,
  overrideFromStored,
  type RetentionRules,
  type RetentionRulesUpdate,
  rulesFromStored,
  validateDialogOverride,
} from './retention-rules.ts';
import { retentionStore, TENANT_RULES } from './retention-store.ts';

/** A dialog's overrides (absent kinds follow the tenant) and the rule each kind follows now. */
export type DialogRetention = DialogRetentionView;

/** A dialog of this tenant that exists (another tenant's dialog is a 404). */
export type DialogCheck = (tx: TenantTx, tenantId: string, dialogId: string) => Promise<boolean>;

/**
 * A tenant's retention rules and its dialogs' overrides of the dialog-scoped rules (messages, attachments,
 * call records, search entries; docs/privacy.md, "Retention").
 * Every change is validated as a whole (retention-rules.ts) and audited with the rules before and after
 * (durations only, nothing personal).
 */
export function createRetentionService(deps: {
  storage: Storage;
  audit: AuditLog;
  clock: Clock;
  dialogExists: DialogCheck;
  /** Is the user an owner or admin of the dialog (who may make its rule stricter)? */
  managesDialog: (tx: TenantTx, tenantId: string, dialogId: string, userId: string) => Promise<boolean>;
}) {
  const { storage, audit, clock } = deps;

  async function rulesIn(tx: TenantTx, tenantId: string): Promise<RetentionRules> {
    return rulesFromStored((await retentionStore.get(tx, tenantId, TENANT_RULES))?.rules);
  }

  /** Every dialog override of the tenant: dialog id → the kinds it overrides. */
  async function overridesIn(tx: TenantTx, tenantId: string): Promise<Map<string, DialogRetentionRules>> {
    const rows = await retentionStore.overrides(tx, tenantId);
    return new Map(rows.map((row) => [row.dialog_id, overrideFromStored(row.rules)]));
  }

  async function dialogIn(tx: TenantTx, tenantId: string, dialogId: string): Promise<DialogRetention> {
    if (!(await deps.dialogExists(tx, tenantId, dialogId))) throw new AppError('not_found');
    const tenant = await rulesIn(tx, tenantId);
    const row = await retentionStore.get(tx, tenantId, dialogId);
    const override = row ? overrideFromStored(row.rules) : {};
    return { dialogId, ...override, effective: effectiveDialogRules(tenant, override) };
  }

  return {
    rulesIn,
    overridesIn,

    get: (tenantId: string) => storage.withTenant(tenantId, (tx) => rulesIn(tx, tenantId)),

    async update(tenantId: string, actor: HoldActor, update: RetentionRulesUpdate): Promise<RetentionRules> {
      return storage.withTenant(tenantId, async (tx) => {
        const before = await rulesIn(tx, tenantId);
        const after = applyUpdate(before, update);
        await retentionStore.put(tx, {
          tenant_id: tenantId,
          dialog_id: TENANT_RULES,
          rules: JSON.stringify(after),
          updated_at: clock.now(),
        });
        await audit.append(tx, tenantId, {
          actor: actor.actor,
          action: 'retention.rules_changed',
          target: { type: 'tenant', id: tenantId },
          outcome: 'success',
          ...actor.context,
          details: { before: { ...before }, after: { ...after } },
        });
        return after;
      });
    },

    getDialog: (tenantId: string, dialogId: string) =>
      storage.withTenant(tenantId, (tx) => dialogIn(tx, tenantId, dialogId)),

    /**
     * Replaces a dialog's overrides with `override` (kinds left out follow the tenant's rule). Stricter than
     * the tenant's for anyone allowed here; longer (or unlimited) only when `mayExtend` (an administrator with
     * `retention.manage`).
     */
    async setDialog(
      tenantId: string,
      actor: HoldActor,
      dialogId: string,
      override: DialogRetentionRules,
      mayExtend: boolean,
    ): Promise<DialogRetention> {
      return storage.withTenant(tenantId, async (tx) => {
        if (!(await deps.dialogExists(tx, tenantId, dialogId))) throw new AppError('not_found');
        if (!mayExtend && !(await deps.managesDialog(tx, tenantId, dialogId, actor.userId)))
          throw new AppError('forbidden', 'Only the dialog’s owners and admins set its retention.');
        validateDialogOverride(await rulesIn(tx, tenantId), override, mayExtend);
        await retentionStore.put(tx, {
          tenant_id: tenantId,
          dialog_id: dialogId,
          rules: JSON.stringify(override),
          updated_at: clock.now(),
        });
        await audit.append(tx, tenantId, {
          actor: actor.actor,
          action: 'retention.dialog_rule_changed',
          target: { type: 'dialog', id: dialogId },
          outcome: 'success',
          ...actor.context,
          details: { ...override },
        });
        return dialogIn(tx, tenantId, dialogId);
      });
    },

    /** Drops a dialog's override: it follows the tenant's rule again. */
    async clearDialog(tenantId: string, actor: HoldActor, dialogId: string): Promise<DialogRetention> {
      return storage.withTenant(tenantId, async (tx) => {
        if (!(await deps.dialogExists(tx, tenantId, dialogId))) throw new AppError('not_found');
        if (await retentionStore.remove(tx, tenantId, dialogId))
          await audit.append(tx, tenantId, {
            actor: actor.actor,
            action: 'retention.dialog_rule_changed',
            target: { type: 'dialog', id: dialogId },
            outcome: 'success',
            ...actor.context,
            details: { cleared: true },
          });
        return dialogIn(tx, tenantId, dialogId);
      });
    },
  };
}

export type RetentionService = ReturnType<typeof createRetentionService>;
