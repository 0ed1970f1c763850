import type { Storage } from '../storage/database.ts';
import type { BlindIndex } from './blind-index.ts';
import { type FieldCipher, isFieldEnvelope } from './field-cipher.ts';
import { KeyDestroyedError } from './keyring.ts';

/** What one start-up pass sealed, column by column. */
export interface PlaintextSealing {
  avatars: number;
  grantReasons: number;
  staffEmails: number;
  reviewNotes: number;
}

/**
 * Seals the personal values written before their column was sealed (migration 0035): `users.avatar_url`
 * (user key), `support_grants.reason` (tenant data key), `staff_accounts.email` with its blind index and
 * `legal_requests.review_notes` (platform keys). A migration holds no key, so this runs at every start-up
 * right after the keyring opened, before anything is served; each plain value is overwritten by its envelope,
 * so a second pass finds nothing. Readers open these columns as envelopes only: they never see plain text.
 */
export async function sealLegacyPlaintext(
  storage: Storage,
  fieldCipher: FieldCipher,
  blindIndex: BlindIndex,
): Promise<PlaintextSealing> {
  const done: PlaintextSealing = { avatars: 0, grantReasons: 0, staffEmails: 0, reviewNotes: 0 };
  const { avatars, reasons } = await storage.withSystem(async (tx) => {
    const staff = await tx
      .selectFrom('staff_accounts')
      .select(['id', 'email'])
      .where('email_index', 'is', null)
      .execute();
    for (const row of staff) {
      const email = row.email.trim().toLowerCase();
      await tx
        .updateTable('staff_accounts')
        .set({
          email: await fieldCipher.sealForPlatform(
            tx,
            { table: 'staff_accounts', column: 'email', rowId: row.id },
            email,
          ),
          email_index: await blindIndex.computeForPlatform(tx, 'email', email),
        })
        .where('id', '=', row.id)
        .execute();
      done.staffEmails += 1;
    }
    const notes = await tx
      .selectFrom('legal_requests')
      .select(['id', 'review_notes'])
      .where('review_notes', 'is not', null)
      .execute();
    for (const row of notes) {
      if (row.review_notes === null || isFieldEnvelope(row.review_notes)) continue;
      await tx
        .updateTable('legal_requests')
        .set({
          review_notes: await fieldCipher.sealForPlatform(
            tx,
            { table: 'legal_requests', column: 'review_notes', rowId: row.id },
            row.review_notes,
          ),
        })
        .where('id', '=', row.id)
        .execute();
      done.reviewNotes += 1;
    }
    return {
      // An avatar is a URL: an envelope's prefix narrows the scan, the exact test decides.
      avatars: (
        await tx
          .selectFrom('users')
          .select(['id', 'tenant_id', 'avatar_url'])
          .where('avatar_url', 'is not', null)
          .where('avatar_url', 'not like', 'pf1.%')
          .execute()
      ).filter((row) => row.avatar_url != null && !isFieldEnvelope(row.avatar_url)),
      reasons: (await tx.selectFrom('support_grants').select(['id', 'tenant_id', 'reason']).execute()).filter(
        (row) => row.reason !== '' && !isFieldEnvelope(row.reason),
      ),
    };
  });
  const tenants = new Set([...avatars.map((row) => row.tenant_id), ...reasons.map((row) => row.tenant_id)]);
  for (const tenantId of tenants) {
    await storage.withTenant(tenantId, async (tx) => {
      for (const row of avatars.filter((avatar) => avatar.tenant_id === tenantId)) {
        let sealed: string | null;
        try {
          sealed = await fieldCipher.sealForUser(
            tx,
            { tenantId, table: 'users', column: 'avatar_url', rowId: row.id },
            row.id,
            row.avatar_url ?? '',
          );
        } catch (error) {
          // An erased user's key is gone: nothing of theirs may stay readable, so the plain value goes too.
          if (!(error instanceof KeyDestroyedError)) throw error;
          sealed = null;
        }
        await tx
          .updateTable('users')
          .set({ avatar_url: sealed })
          .where('tenant_id', '=', tenantId)
          .where('id', '=', row.id)
          .execute();
        done.avatars += 1;
      }
      for (const row of reasons.filter((grant) => grant.tenant_id === tenantId)) {
        const location = { tenantId, table: 'support_grants', column: 'reason', rowId: row.id };
        let sealed: string;
        try {
          sealed = await fieldCipher.sealForTenant(tx, location, row.reason);
        } catch (error) {
          // A purged tenant's keys are gone (its rows are on their way out): the plain text goes now.
          if (!(error instanceof KeyDestroyedError)) throw error;
          sealed = '';
        }
        await tx
          .updateTable('support_grants')
          .set({ reason: sealed })
          .where('tenant_id', '=', tenantId)
          .where('id', '=', row.id)
          .execute();
        done.grantReasons += 1;
      }
    });
  }
  return done;
}
