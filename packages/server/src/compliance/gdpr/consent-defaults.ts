import { createHash } from 'node:crypto';
import type { LawfulBasis } from '@parley/protocol';

/** What a purpose says to the user; a change of any of these makes a new version. */
export interface PurposeWording {
  title: string;
  text: string;
  lawfulBasis: LawfulBasis;
}

/**
 * The SHA-256 (hex) of a version's text as UTF-8: what every ledger row carries, so the exact words a user
 * agreed to can be proven later even if the purpose changed many times since.
 */
export function purposeTextHash(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * The purpose every tenant starts with (on creation, and for tenants older than consent in migration 0017):
 * running the service itself, under the contract with the user, required. Every other purpose a tenant adds
 * starts optional and off for each user until they grant it.
 */
export const SERVICE_PURPOSE = Object.freeze({
  key: 'service',
  title: 'Providing the service',
  text:
    'We process your account details (name and e-mail address), the messages, files and calls you exchange ' +
    'and technical data about your sessions (devices and IP addresses) in order to provide this chat and ' +
    'calling service to you. Without this processing the service cannot work.',
  lawfulBasis: 'contract',
  required: true,
} as const satisfies PurposeWording & { key: string; required: boolean });
