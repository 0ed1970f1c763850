import { describe, expect, it } from 'vitest';
import type { AccessReader } from '../../../src/compliance/access-log/access-record.ts';
import { AccessRecorder, type PendingAccess } from '../../../src/compliance/access-log/access-recorder.ts';
import { ManualClock } from '../../support/staff-fixtures.ts';

const reader = (sessionId: string): AccessReader => ({ type: 'user', id: 'u1', grantId: null, sessionId });

/** A recorder whose writes land in `written`, with the tenants' settings and a failure switch in hand. */
function recorderFor(on: Record<string, boolean>) {
  const clock = new ManualClock();
  const written: { tenantId: string; reads: readonly PendingAccess[] }[] = [];
  const errors: { tenantId: string; dropped: number }[] = [];
  const state = { failing: false };
  const recorder = new AccessRecorder({
    clock,
    isEnabled: (tenantId) => Promise.resolve(on[tenantId] ?? false),
    writeBatch: (tenantId, reads) => {
      if (state.failing) return Promise.reject(new Error('database away'));
      written.push({ tenantId, reads: [...reads] });
      return Promise.resolve();
    },
    onError: (_error, tenantId, dropped) => {
      errors.push({ tenantId, dropped });
    },
    maxPending: 3,
  });
  return { recorder, written, errors, state, clock };
}

/**
 * The recorder that keeps realtime delivery free of database writes (compliance/access-log/access-recorder.ts):
 * deliveries coalesce per session and dialog until a flush, a tenant found not recording loses nothing but its
 * own reads, and a failed write keeps the reads for the next flush.
 */
describe('access recorder', () => {
  it('coalesces deliveries that follow each other into one range per session and dialog, until the flush', async () => {
    const { recorder, written } = recorderFor({ t1: true });
    recorder.delivered('t1', reader('s1'), 'd1', 1, 3);
    recorder.delivered('t1', reader('s1'), 'd1', 4, 4);
    recorder.delivered('t1', reader('s1'), 'd1', 7, 9);
    recorder.delivered('t1', reader('s2'), 'd1', 4, 4);
    recorder.delivered('t1', reader('s1'), 'd2', 1, 1);
    // Behind what the session's range holds (a resync that started over): a new range.
    recorder.delivered('t1', reader('s1'), 'd1', 2, 2);
    await recorder.flush();
    recorder.delivered('t1', reader('s1'), 'd1', 10, 10);
    await recorder.flush();
    const ranges = written.map(({ reads }) =>
      reads.map(
        (read) =>
          `${read.reader.sessionId ?? ''}/${read.dialogId ?? ''}:${read.fromSeq ?? 0}-${read.toSeq ?? 0}`,
      ),
    );
    expect(ranges).toEqual([['s1/d1:1-9', 's2/d1:4-4', 's1/d2:1-1', 's1/d1:2-2'], ['s1/d1:10-10']]);
    expect(recorder.pending).toBe(0);
  });

  it('drops the reads of a tenant that does not record, and skips it on the hot path once known', async () => {
    const { recorder, written } = recorderFor({ on: true });
    recorder.record({
      tenantId: 'off',
      reader: reader('s1'),
      kind: 'history',
      dialogId: 'd1',
      fromSeq: 1,
      toSeq: 5,
    });
    recorder.record({ tenantId: 'on', reader: reader('s1'), kind: 'attachment', fileId: 'f1' });
    await recorder.flush();
    expect(written.map((batch) => batch.tenantId)).toEqual(['on']);
    recorder.delivered('off', reader('s1'), 'd1', 6, 6);
    expect(recorder.pending).toBe(0);
  });

  it('keeps the reads of a failed write for the next flush, the newest within the limit', async () => {
    const { recorder, written, errors, state } = recorderFor({ t1: true });
    state.failing = true;
    recorder.record({ tenantId: 't1', reader: reader('s1'), kind: 'attachment', fileId: 'f1' });
    recorder.record({ tenantId: 't1', reader: reader('s1'), kind: 'attachment', fileId: 'f2' });
    await recorder.flush();
    expect(errors).toEqual([{ tenantId: 't1', dropped: 0 }]);
    recorder.record({ tenantId: 't1', reader: reader('s1'), kind: 'attachment', fileId: 'f3' });
    recorder.record({ tenantId: 't1', reader: reader('s1'), kind: 'attachment', fileId: 'f4' });
    await recorder.flush();
    expect(errors.at(-1)).toEqual({ tenantId: 't1', dropped: 1 });
    state.failing = false;
    await recorder.close();
    expect(written.flatMap(({ reads }) => reads.map((read) => read.fileId))).toEqual(['f2', 'f3', 'f4']);
  });
});
