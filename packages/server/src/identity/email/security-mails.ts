/**
 * The texts of the identity e-mails. Plain text only (nothing to render, nothing to track), fixed subjects
 * (no user input in a header), and every value that came from a request is flattened to one short line so
 * a crafted User-Agent cannot lay out a convincing fake paragraph.
 */

export interface MailContent {
  subject: string;
  text: string;
}

/** Where and when something happened, as a security notice reports it. */
export interface NoticeDetails {
  ip?: string | undefined;
  userAgent?: string | undefined;
}

export type SecurityNoticeKind = 'new_sign_in' | 'mfa_changed' | 'password_changed' | 'email_changed';

const oneLine = (value: string) =>
  value
    .replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]+/gu, ' ')
    .trim()
    .slice(0, 160);

const IF_NOT_YOU =
  'If this was not you, reset your password now and sign out your other devices; then tell your administrator.';

export function passwordResetMail(link: string, validMinutes: number): MailContent {
  return {
    subject: 'Reset your Parley password',
    text: [
      'Someone asked to reset the password of your Parley account. To choose a new password, open this link',
      `within ${validMinutes} minutes:`,
      '',
      `  ${link}`,
      '',
      'The link works once. If you did not ask for this, ignore this message: your password stays as it is.',
      '',
    ].join('\n'),
  };
}

export function verificationMail(link: string, validHours: number): MailContent {
  return {
    subject: 'Confirm your e-mail address for Parley',
    text: [
      `To confirm that this address belongs to your Parley account, open this link within ${validHours} hours:`,
      '',
      `  ${link}`,
      '',
      'If you did not ask for this, ignore this message.',
      '',
    ].join('\n'),
  };
}

/** Sent to the new address: the change takes effect only once this link is opened. */
export function emailChangeMail(link: string, validHours: number): MailContent {
  return {
    subject: 'Confirm your new e-mail address for Parley',
    text: [
      'Someone asked to use this address for a Parley account, in place of the one it has now. To confirm',
      `the change, open this link within ${validHours} hours:`,
      '',
      `  ${link}`,
      '',
      'Until then the account keeps its current address. If you did not ask for this, ignore this message.',
      '',
    ].join('\n'),
  };
}

const NOTICES: Record<SecurityNoticeKind, { subject: string; what: string }> = {
  new_sign_in: { subject: 'New sign-in to your Parley account', what: 'Your account was signed in to' },
  mfa_changed: {
    subject: 'Two-step verification changed on your Parley account',
    what: 'The two-step verification of your account was changed',
  },
  password_changed: {
    subject: 'Your Parley password was changed',
    what: 'The password of your account was changed',
  },
  email_changed: {
    subject: 'The e-mail address of your Parley account was changed',
    what: 'Your account was moved from this e-mail address to another one',
  },
};

export function securityNoticeMail(
  kind: SecurityNoticeKind,
  at: number,
  details: NoticeDetails,
): MailContent {
  const { subject, what } = NOTICES[kind];
  const from = [
    details.ip === undefined ? undefined : `address ${oneLine(details.ip)}`,
    details.userAgent === undefined ? undefined : `device "${oneLine(details.userAgent)}"`,
  ].filter((part) => part !== undefined);
  return {
    subject,
    text: [
      `${what} on ${new Date(at).toISOString().replace('T', ' ').slice(0, 19)} UTC${from.length > 0 ? ` from ${from.join(', ')}` : ''}.`,
      '',
      IF_NOT_YOU,
      '',
    ].join('\n'),
  };
}
