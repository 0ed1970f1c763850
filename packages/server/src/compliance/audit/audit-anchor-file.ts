import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fstatSync,
  fsyncSync,
  openSync,
  readFileSync,
  readSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { ensurePrivateDir } from '../../bootstrap/data-dir.ts';
import type { SigningKeys } from '../../crypto/signing-keys.ts';
import { newId } from '../../ids.ts';
import { canonicalJson, GENESIS_HASH } from './audit-entry.ts';

/** A chain head to pin outside the database: the entry at `seq` of `tenantId`'s chain hashed to `hash`. */
export interface AuditAnchor {
  tenantId: string;
  seq: number;
  hash: string;
}

/**
 * One line of the anchor file. `line` counts from 1 and `prev` is the SHA-256 of the previous line's text
 * (GENESIS_HASH for the first), so the lines form a hash chain of their own; `fileId` is drawn when the file
 * starts, so lines cannot be spliced in from another node's file. The signature covers every other field.
 */
export interface AnchorLine extends AuditAnchor {
  v: 1;
  fileId: string;
  line: number;
  at: number;
  prev: string;
  keyId: string;
  sig: string;
}

/** Where the file stands: its id, how many lines it has, and the hash of the last one. */
export interface AnchorFileMark {
  fileId: string;
  line: number;
  hash: string;
}

/** What is wrong with the file itself; the first problem is reported and reading stops there. */
export type AnchorFileProblem =
  | 'line unreadable'
  | 'line out of order'
  | 'line chain broken'
  | 'line from another file'
  | 'line signature invalid';

export interface AnchorFileContents {
  /** Per tenant, anchored seq → hash, from every line read before the first problem. */
  anchors: Map<string, Map<number, string>>;
  /** Undefined for a missing or empty file. */
  mark: AnchorFileMark | undefined;
  /** Hash of each line, by line number (for comparing with a recorded mark). */
  lineHashes: string[];
  problem?: { line: number; reason: AnchorFileProblem };
}

const LOCK_STALE_MS = 10_000;
const LOCK_WAIT_MS = 5_000;
const TAIL_BYTES = 64 * 1024;

const lineHash = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

const signedPart = (line: Omit<AnchorLine, 'sig'>): Buffer =>
  Buffer.from(
    canonicalJson({
      v: line.v,
      fileId: line.fileId,
      line: line.line,
      tenantId: line.tenantId,
      seq: line.seq,
      hash: line.hash,
      at: line.at,
      prev: line.prev,
      keyId: line.keyId,
    }),
    'utf8',
  );

/**
 * The anchor file: signed chain heads appended (O_APPEND, fsynced, mode 0600) outside the database, so
 * someone who can only write the database cannot cut, roll back or delete a chain unseen. Appends take a
 * lock file beside it, because the server and one-shot CLI commands (`parley tenant create`) may share the
 * data dir, and the line chain must not fork.
 */
export class AuditAnchorFile {
  constructor(
    readonly file: string,
    private readonly signingKeys: Pick<SigningKeys, 'sign' | 'verify' | 'currentKeyId'>,
  ) {}

  /** Appends one line per anchor with a single fsync; answers the lines and the file's mark afterwards. */
  append(anchors: readonly AuditAnchor[], at: number): { lines: AnchorLine[]; mark: AnchorFileMark } {
    ensurePrivateDir(path.dirname(this.file));
    return this.#locked(() => {
      const last = this.#lastLine();
      let mark: AnchorFileMark = last ?? { fileId: newId(), line: 0, hash: GENESIS_HASH };
      let text = '';
      const written: AnchorLine[] = [];
      for (const anchor of anchors) {
        const unsigned = {
          v: 1 as const,
          fileId: mark.fileId,
          line: mark.line + 1,
          tenantId: anchor.tenantId,
          seq: anchor.seq,
          hash: anchor.hash,
          at,
          prev: mark.hash,
          keyId: this.signingKeys.currentKeyId,
        };
        const signed: AnchorLine = {
          ...unsigned,
          sig: this.signingKeys.sign(signedPart(unsigned)).signature,
        };
        const line = JSON.stringify(signed);
        text += `${line}\n`;
        written.push(signed);
        mark = { fileId: mark.fileId, line: signed.line, hash: lineHash(line) };
      }
      const fd = openSync(this.file, 'a', 0o600);
      try {
        writeSync(fd, text);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      return { lines: written, mark };
    });
  }

  /** Reads and checks every line: order, line chain, file id and signature (with a trusted key). */
  async read(): Promise<AnchorFileContents> {
    const contents: AnchorFileContents = { anchors: new Map(), mark: undefined, lineHashes: [''] };
    if (!existsSync(this.file)) return contents;
    const lines = readFileSync(this.file, 'utf8').split('\n');
    if (lines.at(-1) === '') lines.pop();
    let prev = GENESIS_HASH;
    let fileId: string | undefined;
    for (const [index, text] of lines.entries()) {
      const number = index + 1;
      const line = parseLine(text);
      if (!line) return { ...contents, problem: { line: number, reason: 'line unreadable' } };
      const reason = await this.#lineProblem(line, number, prev, fileId);
      if (reason) return { ...contents, problem: { line: number, reason } };
      fileId = line.fileId;
      prev = lineHash(text);
      contents.lineHashes.push(prev);
      contents.mark = { fileId, line: number, hash: prev };
      const seqs = contents.anchors.get(line.tenantId) ?? new Map<number, string>();
      seqs.set(line.seq, line.hash);
      contents.anchors.set(line.tenantId, seqs);
    }
    return contents;
  }

  /** Checks one parsed line against its position, the line before it and the file's id, then its signature. */
  async #lineProblem(
    line: AnchorLine,
    number: number,
    prev: string,
    fileId: string | undefined,
  ): Promise<AnchorFileProblem | undefined> {
    if (line.line !== number) return 'line out of order';
    if (line.prev !== prev) return 'line chain broken';
    if (fileId !== undefined && line.fileId !== fileId) return 'line from another file';
    const valid = await this.signingKeys.verify(line.keyId, signedPart(line), line.sig).catch(() => false);
    return valid ? undefined : 'line signature invalid';
  }

  /** The last line's mark, read from the tail of the file (the file can grow large). */
  #lastLine(): AnchorFileMark | undefined {
    if (!existsSync(this.file)) return undefined;
    const fd = openSync(this.file, 'r');
    try {
      const size = fstatSync(fd).size;
      if (size === 0) return undefined;
      const length = Math.min(size, TAIL_BYTES);
      const buffer = Buffer.alloc(length);
      readSync(fd, buffer, 0, length, size - length);
      const text = buffer.toString('utf8').replace(/\n$/, '');
      const last = text.slice(text.lastIndexOf('\n') + 1);
      const parsed = parseLine(last);
      // Never extend a damaged file: appending after garbage would hide where the damage is.
      if (!parsed) throw new Error(`the audit anchor file ${this.file} does not end in a valid line`);
      return { fileId: parsed.fileId, line: parsed.line, hash: lineHash(last) };
    } finally {
      closeSync(fd);
    }
  }

  #locked<T>(work: () => T): T {
    const lock = `${this.file}.lock`;
    const deadline = Date.now() + LOCK_WAIT_MS;
    for (;;) {
      try {
        closeSync(openSync(lock, 'wx', 0o600));
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        // A lock left by a process that died mid-append: appends take milliseconds.
        if (lockAge(lock) > LOCK_STALE_MS) unlinkQuietly(lock);
        else if (Date.now() > deadline) throw new Error(`the audit anchor file ${this.file} stays locked`);
        // A synchronous 5 ms pause: appends are synchronous, and the lock is held for milliseconds only.
        else Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
      }
    }
    try {
      return work();
    } finally {
      unlinkQuietly(lock);
    }
  }
}

function parseLine(text: string): AnchorLine | undefined {
  try {
    const value = JSON.parse(text) as Partial<AnchorLine> | null;
    const ok =
      value !== null &&
      value.v === 1 &&
      typeof value.fileId === 'string' &&
      Number.isSafeInteger(value.line) &&
      typeof value.tenantId === 'string' &&
      Number.isSafeInteger(value.seq) &&
      typeof value.hash === 'string' &&
      Number.isSafeInteger(value.at) &&
      typeof value.prev === 'string' &&
      typeof value.keyId === 'string' &&
      typeof value.sig === 'string';
    return ok ? (value as AnchorLine) : undefined;
  } catch {
    return undefined;
  }
}

function lockAge(lock: string): number {
  try {
    return Date.now() - statSync(lock).mtimeMs;
  } catch {
    return 0;
  }
}

function unlinkQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // Already gone (a stale-lock breaker got there first).
  }
}
