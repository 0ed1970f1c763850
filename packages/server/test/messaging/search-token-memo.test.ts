import { describe, expect, it } from 'vitest';
import { TokenMemo } from '../../src/messaging/search/search-token-hasher.ts';

/**
 * Blind tokens cost an HMAC each; the memo keeps a tenant's words in use so that a message's common words
 * are not hashed again. A vocabulary larger than the bound (the bench's, with prefixes, is about 150,000
 * tokens) must not make it forget the common words at every turnover.
 */
describe('remembered search tokens', () => {
  it('keeps a word in use across turnovers while rare words come and go, within twice the bound', () => {
    const memo = new TokenMemo(100);
    const hashed: string[] = [];
    const hash = (token: string) => {
      hashed.push(token);
      return `blind(${token})`;
    };
    for (let rare = 0; rare < 10_000; rare += 1) {
      expect(memo.get('common', hash)).toBe('blind(common)');
      expect(memo.get(`rare-${rare}`, hash)).toBe(`blind(rare-${rare})`);
      expect(memo.size).toBeLessThanOrEqual(200);
    }
    expect(hashed.filter((token) => token === 'common')).toHaveLength(1);
    expect(hashed).toHaveLength(10_001);
  });

  it('hashes a word again once it has gone unused for two generations', () => {
    const memo = new TokenMemo(2);
    let hashes = 0;
    const hash = (token: string) => {
      hashes += 1;
      return token.toUpperCase();
    };
    memo.get('old', hash);
    for (const token of ['a', 'b', 'c', 'd', 'e']) memo.get(token, hash);
    expect(hashes).toBe(6);
    expect(memo.get('old', hash)).toBe('OLD');
    expect(hashes).toBe(7);
  });
});
