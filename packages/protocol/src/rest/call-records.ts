import { z } from 'zod';
import { callOutcomes, participantStates } from '../frames/calls.ts';

/** A call record: who called whom, media, when it rang, was answered and ended, and how. */
export const callRecord = z
  .object({
    id: z.string(),
    dialogId: z.string().nullable(),
    callerId: z.string(),
    media: z.enum(['audio', 'video']),
    state: z.enum(['ringing', 'active', 'ended']),
    outcome: z.enum(callOutcomes).nullable(),
    createdAt: z.string(),
    answeredAt: z.string().nullable(),
    endedAt: z.string().nullable(),
    /** From answer to end; 0 for a call nobody answered. */
    durationSeconds: z.number(),
    participants: z.array(
      z.object({
        userId: z.string(),
        state: z.enum(participantStates),
        joinedAt: z.string().nullable(),
        leftAt: z.string().nullable(),
      }),
    ),
  })
  .meta({ id: 'CallRecord' });
export type CallRecord = z.infer<typeof callRecord>;

export const callHistoryPage = z
  .object({ calls: z.array(callRecord), nextCursor: z.string().optional() })
  .meta({ id: 'CallHistoryPage' });
