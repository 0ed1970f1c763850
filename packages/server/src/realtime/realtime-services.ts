import type { CallService } from '../calls/call-service.ts';
import type { AccessRecorder } from '../compliance/access-log/access-recorder.ts';
import type { SessionService } from '../identity/sessions/session-service.ts';
import type { MessageChangeService } from '../messaging/message-change-service.ts';
import type { MessageFanout } from '../messaging/message-fanout.ts';
import type { MessageService } from '../messaging/message-service.ts';
import type { MessageStream } from '../messaging/message-stream.ts';
import type { ReceiptService } from '../messaging/receipt-service.ts';
import type { TypingService } from '../messaging/typing-service.ts';
import type { PresenceService } from '../presence/presence-service.ts';
import type { TenantCloseService } from '../tenancy/tenant-close-service.ts';

/** The services the realtime gateway calls; the same ones the REST routes call. */
export interface RealtimeServices {
  sessions: SessionService;
  messages: MessageService;
  messageChanges: MessageChangeService;
  stream: MessageStream;
  receipts: ReceiptService;
  typing: TypingService;
  presence: PresenceService;
  fanout: MessageFanout;
  calls: CallService;
  /** Refuses state-changing frames of a closed tenant, as the REST routes are refused. */
  tenantClosures?: Pick<TenantCloseService, 'assertWritable'>;
  /** Records deliveries to devices where the tenant logs who read what (compliance/access-log/). */
  accessLog?: { recorder: Pick<AccessRecorder, 'delivered'> };
}
