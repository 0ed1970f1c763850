import SqliteDatabase from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { withStatementCache } from '../../src/storage/dialects/sqlite-statement-cache.ts';

describe('the SQLite statement cache', () => {
  it('reuses a prepared statement for the same SQL and gives a streamed query its own', () => {
    const database = new SqliteDatabase(':memory:');
    database.exec('create table t (n integer)');
    const cached = withStatementCache(database);
    const insert = cached.prepare('insert into t (n) values (?)');
    for (let n = 1; n <= 3; n += 1) insert.run([n]);
    expect(cached.prepare('insert into t (n) values (?)')).toBe(insert);
    const select = cached.prepare('select n from t order by n');
    const iterator = select.iterate([]);
    expect(iterator.next().value).toEqual({ n: 1 });
    // While the first is mid-iteration, the same SQL must run on another statement, with correct results.
    const second = cached.prepare('select n from t order by n');
    expect(second).not.toBe(select);
    expect(second.all([])).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    expect([...iterator]).toEqual([{ n: 2 }, { n: 3 }]);
    expect(cached.prepare('select n from t order by n')).toBe(select);
    cached.close();
  });
});
