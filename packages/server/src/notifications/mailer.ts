/** Why a message is sent; stored with outbox rows and used to pick nothing else (no tracking). */
export type MailKind =
  | 'password_reset'
  | 'email_verification'
  | 'email_change'
  | 'new_sign_in'
  | 'mfa_changed'
  | 'password_changed'
  | 'email_changed'
  | 'incident_notice'
  | 'legal_request_notice'
  /** A reminder to the operator's security officers (an incident clock, a request deadline). */
  | 'security_reminder';

/** One plain-text message to one person. The text may hold a secret link: never log it. */
export interface MailMessage {
  tenantId: string;
  to: string;
  subject: string;
  text: string;
  kind: MailKind;
}

/**
 * The mail port. `send` resolves once the message is handed over (accepted by the SMTP relay, or stored in
 * the outbox) and rejects otherwise. Adapters may open their own database transaction, so callers send only
 * after their own transaction has committed, never from inside one.
 */
export interface Mailer {
  send(message: MailMessage): Promise<void>;
}
