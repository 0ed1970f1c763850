import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { SearchTokenHasher } from '../../src/messaging/search/search-token-hasher.ts';
import { describeEachDialect } from '../support/dialects.ts';
import { bearer, json, newTenantOwner, type SignedIn, newMember } from '../support/identity-fixtures.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

const run = promisify(execFile);

interface Result {
  message: { id: string; body: string | null };
  dialogId: string;
  score: number;
  snippet: string;
  highlights: { start: number; end: number }[];
}
interface Page {
  results: Result[];
  nextCursor?: string;
}

/**
 * Message search over REST: whole words, newest first, with snippets, and only what the caller may read now. The
 * attacks tried: a non-member, a member who left, a newcomer to a dialog that hides its history, a member who
 * cleared it, and another tenant's user, each searching for words they must not find; and a stolen database
 * searched for the words of a message (the index holds keyed hashes, no words).
 */
describeEachDialect('message search', (dialect) => {
  let server: TestServer;
  let owner: SignedIn;
  let other: SignedIn;
  let bob: { userId: string; token: string };
  let carol: { userId: string; token: string };
  let sent = 0;

  beforeAll(async () => {
    server = await startTestServer({ dialect });
    owner = await newTenantOwner(server, 'Search Clinic');
    other = await newTenantOwner(server, 'Other Corp');
    const member = (name: string) => newMember(server, owner, `${name}@search.example`);
    bob = await member('bob');
    carol = await member('carol');
  });

  afterAll(async () => {
    await server.close();
  });

  const dialog = async (token: string, body: Record<string, unknown>) => {
    const response = await server.request('/v1/dialogs', json(body, token));
    expect(response.status, response.text).toBe(201);
    return response.json<{ id: string }>().id;
  };
  const group = (name: string, memberIds: string[], token = owner.accessToken) =>
    dialog(token, { type: 'group', name, memberIds });
  const send = async (token: string, dialogId: string, body: string) => {
    sent += 1;
    const response = await server.request(
      `/v1/dialogs/${dialogId}/messages`,
      json({ clientId: `s-${sent}`, body }, token),
    );
    expect(response.status, response.text).toBe(201);
    return response.json<{ id: string }>().id;
  };
  const search = async (token: string, q: string, extra: Record<string, string> = {}) => {
    const query = new URLSearchParams({ q, ...extra });
    const response = await server.request(`/v1/search/messages?${query.toString()}`, bearer(token));
    expect(response.status, response.text).toBe(200);
    return response.json<Page>();
  };
  const bodies = (page: Page) => page.results.map((result) => result.message.body);
  /**
   * Searches for a whole word and for its first five characters as a prefix (`narwh*`): the visibility
   * rules must hold for both alike, so both must find the same messages.
   */
  const searchBoth = async (token: string, word: string, extra: Record<string, string> = {}) => {
    const whole = await search(token, word, extra);
    const prefix = await search(token, `${word.slice(0, 5)}*`, extra);
    expect(bodies(prefix).sort(), `${word.slice(0, 5)}*`).toEqual(bodies(whole).sort());
    return whole;
  };

  it('finds whole words whatever their case and accents, with highlight ranges on the matching words', async () => {
    const id = await group('Cafés', [bob.userId]);
    await send(owner.accessToken, id, 'Rendez-vous au CAFÉ de Zoë, près du café-théâtre.');
    await send(owner.accessToken, id, 'Nothing to see here.');
    for (const q of ['cafe zoe', 'Café ZOË', 'CAFE']) {
      const page = await search(bob.token, q, { dialogId: id });
      expect(bodies(page)).toEqual(['Rendez-vous au CAFÉ de Zoë, près du café-théâtre.']);
    }
    const [result] = (await search(bob.token, 'cafe zoe', { dialogId: id })).results;
    expect(result?.snippet).toBe('Rendez-vous au CAFÉ de Zoë, près du café-théâtre.');
    expect(result?.highlights.map((range) => result.snippet.slice(range.start, range.end))).toEqual([
      'CAFÉ',
      'Zoë',
      'café',
    ]);
    // Without `*`, whole words only: no prefix or substring search.
    expect((await search(bob.token, 'caf', { dialogId: id })).results).toEqual([]);
    expect((await search(bob.token, 'afe', { dialogId: id })).results).toEqual([]);
    // Every word must occur.
    expect((await search(bob.token, 'cafe nothing', { dialogId: id })).results).toEqual([]);
  });

  it('finds every message of a batch of concurrent sends, each by its own words', async () => {
    const dialogs = [await group('Batch A', [bob.userId]), await group('Batch B', [bob.userId])];
    const animals = ['aardvark', 'bonobo', 'cassowary', 'dugong', 'echidna', 'fossa', 'gharial', 'hoatzin'];
    const texts = animals.map((animal, index) => `${animal} ${index % 2 === 0 ? 'zebu also' : 'zebu zebu'}`);
    // Sends fired in one event-loop turn share one transaction (group commit): count the transactions.
    const storage = server.app.storage;
    const withTenant = storage.withTenant.bind(storage);
    let transactions = 0;
    storage.withTenant = (tenantId, work) => {
      transactions += 1;
      return withTenant(tenantId, work);
    };
    try {
      await Promise.all(
        [...texts, '!!! ???'].map((body, index) =>
          server.app.services.messages.send(owner.tenantId, owner.userId, dialogs[index % 2] ?? '', {
            clientId: `batch-${index}`,
            body,
            mentions: [],
            attachments: [],
          }),
        ),
      );
    } finally {
      storage.withTenant = withTenant;
    }
    expect(transactions).toBe(1);
    for (const [index, animal] of animals.entries())
      expect(bodies(await search(bob.token, animal)), animal).toEqual([texts[index]]);
    const all = await search(bob.token, 'zebu', { limit: '50' });
    expect(new Set(bodies(all))).toEqual(new Set(texts));
    // The messages with the word twice score above those with it once.
    const scoreOf = (ending: string) =>
      all.results.filter((result) => result.message.body?.endsWith(ending)).map((result) => result.score);
    expect(Math.min(...scoreOf('zebu zebu'))).toBeGreaterThan(Math.max(...scoreOf('zebu also')));
  });

  it('finds words by their beginning with `*`, whatever case and accents, highlighting whole words', async () => {
    const id = await group('Prefixes', [bob.userId]);
    await send(owner.accessToken, id, 'The Cafétéria opens at noon');
    await send(owner.accessToken, id, 'Coffee at the café, then the cafeteria');
    await send(owner.accessToken, id, 'The cab was late');
    for (const q of ['caf*', 'CAFÉ*', 'cafe*']) {
      const page = await search(bob.token, q, { dialogId: id });
      expect(new Set(bodies(page)), q).toEqual(
        new Set(['The Cafétéria opens at noon', 'Coffee at the café, then the cafeteria']),
      );
    }
    const page = await search(bob.token, 'cafet*', { dialogId: id });
    expect(new Set(bodies(page))).toEqual(
      new Set(['The Cafétéria opens at noon', 'Coffee at the café, then the cafeteria']),
    );
    const highlighted = (result: Result | undefined) =>
      result?.highlights.map((range) => result.snippet.slice(range.start, range.end));
    const coffee = page.results.find((result) => result.message.body?.startsWith('Coffee'));
    expect(highlighted(coffee)).toEqual(['cafeteria']);
    const both = await search(bob.token, 'caf*', { dialogId: id });
    expect(highlighted(both.results.find((result) => result.message.body?.startsWith('Coffee')))).toEqual([
      'café',
      'cafeteria',
    ]);
    // A prefix combines with words and phrases: all must occur.
    expect(bodies(await search(bob.token, 'caf* noon', { dialogId: id }))).toEqual([
      'The Cafétéria opens at noon',
    ]);
    expect(bodies(await search(bob.token, '"the café" cafet*', { dialogId: id }))).toEqual([
      'Coffee at the café, then the cafeteria',
    ]);
    // A word is not its own prefix token, nor a prefix a word: `cab` (a word) and `cab*` differ.
    expect(bodies(await search(bob.token, 'cab*', { dialogId: id }))).toEqual(['The cab was late']);
    expect((await search(bob.token, 'cafeter', { dialogId: id })).results).toEqual([]);
    // A star inside quotes is punctuation: the phrase "caf" is a whole word, found nowhere.
    expect((await search(bob.token, '"caf*"', { dialogId: id })).results).toEqual([]);
  });

  it('scores a message with more words of the prefix higher, and still lists the newest first', async () => {
    const id = await group('Prefix scores', [bob.userId]);
    await send(owner.accessToken, id, 'wallaby wallabies sat by the sea');
    await send(owner.accessToken, id, 'a wallaby sat by the sea');
    const page = await search(bob.token, 'walla*', { dialogId: id });
    expect(bodies(page)).toEqual(['a wallaby sat by the sea', 'wallaby wallabies sat by the sea']);
    expect(page.results[1]?.score).toBeGreaterThan(page.results[0]?.score ?? Infinity);
  });

  it('matches a prefix longer than 10 characters on its first 10, and highlights what matched', async () => {
    const id = await group('Long prefixes', [bob.userId]);
    await send(owner.accessToken, id, 'Internationalisation is hard');
    await send(owner.accessToken, id, 'International calls');
    await send(owner.accessToken, id, 'Internal memo');
    const page = await search(bob.token, 'internationalis*', { dialogId: id });
    // "internatio" is what the index holds: both words that begin with it are found (documented).
    expect(new Set(bodies(page))).toEqual(new Set(['Internationalisation is hard', 'International calls']));
    for (const result of page.results) expect(result.highlights).toHaveLength(1);
  });

  it('finds a word by each of its beginnings, however many other words share a shorter one', async () => {
    const id = await group('Every length', [bob.userId]);
    const words = ['conversationalist', 'conversation', 'conversion', 'convenient', 'convex', 'cone'];
    for (const word of words) await send(owner.accessToken, id, `the ${word} today`);
    // PostgreSQL walks term rows of beginnings of 3, 5 and 8 characters only; every other length must be
    // matched against the whole entry, so each length is asked here with words that share shorter ones.
    for (let length = 3; length <= 14; length += 1) {
      for (const word of words) {
        const prefix = word.slice(0, length);
        const expected = words
          .filter((other) => other.slice(0, 10).startsWith(prefix.slice(0, 10)))
          .map((other) => `the ${other} today`);
        const page = await search(bob.token, `${prefix}*`, { dialogId: id });
        expect(new Set(bodies(page)), `${prefix}*`).toEqual(new Set(expected));
      }
    }
    // Two prefixes and a word together.
    expect(bodies(await search(bob.token, 'the conv* conve*', { dialogId: id })).sort()).toEqual(
      words
        .filter((word) => word.startsWith('conve'))
        .map((word) => `the ${word} today`)
        .sort(),
    );
  });

  it.runIf(dialect === 'postgres')(
    'PostgreSQL: a message has term rows for its words and walked beginnings only, removed with its entry',
    async () => {
      const id = await group('Term rows', [bob.userId]);
      // Words: the, conversation; beginnings walked: the, con, conve, conversa.
      const messageId = await send(owner.accessToken, id, 'the conversation');
      const db = server.app.storage.kysely;
      const terms = () =>
        db
          .selectFrom('message_search_terms')
          .select((eb) => eb.fn.countAll().as('n'))
          .where('message_id', '=', messageId)
          .executeTakeFirstOrThrow()
          .then((row) => Number(row.n));
      expect(await terms()).toBe(2 + 4);
      // The entry's tsvector still holds every beginning (3 to 10 characters: 1 + 8) and both words.
      const { rows } = await sql<{ n: number }>`select length(tokens) as n from message_search
      where message_id = ${messageId}`.execute(db);
      expect(rows[0]?.n).toBe(2 + 1 + 8);
      // Whatever removes the entry (here as retention or a purge would, by the table) takes the rows along.
      await sql`delete from message_search where message_id = ${messageId}`.execute(db);
      expect(await terms()).toBe(0);
    },
  );

  it('indexes a message of the largest size a tenant may allow, however many distinct long words it has', async () => {
    // 64 KiB of distinct 11-letter words: every word gives 8 beginnings, about 50,000 distinct tokens, more
    // than PostgreSQL takes in one tsvector (1 MiB). Such a send (or edit) must still be stored and found.
    const limits = (maxMessageBytes: number) =>
      server.request(
        '/v1/tenant/settings',
        json({ messaging: { maxMessageBytes } }, owner.accessToken, 'PATCH'),
      );
    expect((await limits(65_536)).status).toBe(200);
    try {
      const word = (index: number, letter: string) =>
        letter +
        Array.from({ length: 10 }, (_, place) =>
          String.fromCharCode(97 + (Math.floor(index / 26 ** place) % 26)),
        ).join('');
      const text = (letter: string) => {
        const words: string[] = [];
        while ((words.length + 1) * 12 <= 65_536) words.push(word(words.length, letter));
        return words;
      };
      const first = text('q');
      const id = await group('Huge', [bob.userId]);
      const messageId = await send(owner.accessToken, id, first.join(' '));
      for (const q of [first[0], first.at(-1), `${first[0]?.slice(0, 6)}*`])
        expect((await search(bob.token, q ?? '', { dialogId: id })).results, q).toHaveLength(1);
      const second = text('x');
      const edited = await server.request(
        `/v1/dialogs/${id}/messages/${messageId}`,
        json({ body: second.join(' ') }, owner.accessToken, 'PATCH'),
      );
      expect(edited.status, edited.text).toBe(200);
      expect((await search(bob.token, first[0] ?? '', { dialogId: id })).results).toEqual([]);
      for (const q of [second[0], second.at(-1), `${second[0]?.slice(0, 6)}*`])
        expect((await search(bob.token, q ?? '', { dialogId: id })).results, q).toHaveLength(1);
    } finally {
      expect((await limits(16_384)).status).toBe(200);
    }
  });

  it('refuses a prefix shorter than 3 characters with a validation error that says so', async () => {
    for (const q of ['ca*', 'c*', 'cafe ca*', 'é*']) {
      const response = await server.request(
        `/v1/search/messages?${new URLSearchParams({ q }).toString()}`,
        bearer(bob.token),
      );
      expect(response.status, q).toBe(400);
      expect(response.json<{ error: { code: string; message: string } }>().error).toEqual(
        expect.objectContaining({
          code: 'validation_failed',
          message: 'A prefix search (a word ending in *) needs at least 3 characters before the *.',
        }),
      );
    }
  });

  it('matches a quoted phrase only with its words together and in order', async () => {
    const id = await group('Phrases', [bob.userId]);
    await send(owner.accessToken, id, 'The quarterly budget review is on Monday.');
    await send(owner.accessToken, id, 'Review the budget, not the quarterly plan.');
    expect(bodies(await search(bob.token, '"budget review"', { dialogId: id }))).toEqual([
      'The quarterly budget review is on Monday.',
    ]);
    expect((await search(bob.token, 'budget review', { dialogId: id })).results).toHaveLength(2);
  });

  it('lists the newest first whatever the score; a message with the word twice scores higher', async () => {
    const id = await group('Recency', [bob.userId]);
    await send(owner.accessToken, id, 'quokka quokka sat by the sea');
    await send(owner.accessToken, id, 'a quokka sat by the sea');
    await send(owner.accessToken, id, 'the quokka, a long time later, sat by the sea again');
    const page = await search(bob.token, 'quokka', { dialogId: id });
    expect(bodies(page)).toEqual([
      'the quokka, a long time later, sat by the sea again',
      'a quokka sat by the sea',
      'quokka quokka sat by the sea',
    ]);
    const [latest, once, twice] = page.results.map((result) => result.score);
    expect(twice).toBeGreaterThan(once ?? Infinity);
    // The same one match weighs less in a longer message.
    expect(once).toBeGreaterThan(latest ?? Infinity);
  });

  it('keeps an edited message in its place: order is when it was sent, not when it was edited', async () => {
    const id = await group('Edited order', [bob.userId]);
    const first = await send(owner.accessToken, id, 'ocelot one');
    await send(owner.accessToken, id, 'ocelot two');
    await send(owner.accessToken, id, 'ocelot three');
    const edited = await server.request(
      `/v1/dialogs/${id}/messages/${first}`,
      json({ body: 'ocelot one, edited' }, owner.accessToken, 'PATCH'),
    );
    expect(edited.status, edited.text).toBe(200);
    expect(bodies(await search(bob.token, 'ocelot', { dialogId: id }))).toEqual([
      'ocelot three',
      'ocelot two',
      'ocelot one, edited',
    ]);
    expect(bodies(await search(bob.token, 'edited', { dialogId: id }))).toEqual(['ocelot one, edited']);
    // One entry; on PostgreSQL its terms are the new text's (3 words; the beginnings of 3 and 5 characters:
    // oce ocelo, one, edi edite), none left over.
    expect(await indexRows(first)).toBe(dialect === 'postgres' ? 1 + 3 + 5 : 1);
  });

  it('searches one dialog, or every dialog of the caller', async () => {
    const first = await group('Pangolins A', [bob.userId]);
    const second = await group('Pangolins B', [bob.userId]);
    const notBobs = await group('Pangolins C', [carol.userId]);
    await send(owner.accessToken, first, 'pangolin in the first');
    await send(bob.token, second, 'pangolin in the second');
    await send(owner.accessToken, notBobs, 'pangolin where bob is not');
    const everywhere = await search(bob.token, 'pangolin');
    expect(everywhere.results.map((result) => result.dialogId).sort()).toEqual([first, second].sort());
    expect(everywhere.results.every((result) => result.message.body?.includes('pangolin'))).toBe(true);
    const inOne = await search(bob.token, 'pangolin', { dialogId: first });
    expect(inOne.results.map((result) => result.dialogId)).toEqual([first]);
    expect((await search(owner.accessToken, 'pangolin')).results).toHaveLength(3);
  });

  it('shows a non-member, and a member who left, nothing of the dialog', async () => {
    const id = await group('Secret plans', [bob.userId]);
    await send(owner.accessToken, id, 'the narwhal codeword');
    expect((await searchBoth(bob.token, 'narwhal')).results).toHaveLength(1);
    // Carol is not a member: neither a global search nor naming the dialog finds anything.
    expect((await searchBoth(carol.token, 'narwhal')).results).toEqual([]);
    expect((await searchBoth(carol.token, 'narwhal', { dialogId: id })).results).toEqual([]);
    const left = await server.request(`/v1/dialogs/${id}?mode=leave`, bearer(bob.token, 'DELETE'));
    expect(left.status).toBe(204);
    expect((await searchBoth(bob.token, 'narwhal')).results).toEqual([]);
    expect((await searchBoth(bob.token, 'narwhal', { dialogId: id })).results).toEqual([]);
  });

  it('hides what was sent before a newcomer joined a dialog that hides its history', async () => {
    const hidden = await dialog(owner.accessToken, { type: 'public', name: 'Lobby', hideHistory: true });
    const open = await dialog(owner.accessToken, { type: 'public', name: 'Square' });
    await send(owner.accessToken, hidden, 'axolotl before you came');
    await send(owner.accessToken, open, 'axolotl in the open before you came');
    // Not a member yet: public or not, nothing is found.
    expect((await searchBoth(carol.token, 'axolotl')).results).toEqual([]);
    for (const id of [hidden, open]) {
      const joined = await server.request(`/v1/dialogs/${id}/members/me`, bearer(carol.token, 'POST'));
      expect(joined.status, joined.text).toBe(200);
    }
    await send(owner.accessToken, hidden, 'axolotl after you came');
    expect(bodies(await searchBoth(carol.token, 'axolotl', { dialogId: hidden }))).toEqual([
      'axolotl after you came',
    ]);
    expect(bodies(await searchBoth(carol.token, 'axolotl', { dialogId: open }))).toEqual([
      'axolotl in the open before you came',
    ]);
    expect((await searchBoth(owner.accessToken, 'axolotl', { dialogId: hidden })).results).toHaveLength(2);
  });

  it('hides history the member cleared, and the dialog once deleted for everyone', async () => {
    const id = await group('Clearing', [bob.userId]);
    await send(owner.accessToken, id, 'wombat old news');
    const cleared = await server.request(`/v1/dialogs/${id}?mode=clear`, bearer(bob.token, 'DELETE'));
    expect(cleared.status).toBe(204);
    await send(owner.accessToken, id, 'wombat fresh news');
    expect(bodies(await searchBoth(bob.token, 'wombat'))).toEqual(['wombat fresh news']);
    expect((await searchBoth(owner.accessToken, 'wombat')).results).toHaveLength(2);
    const deleted = await server.request(
      `/v1/dialogs/${id}?mode=everyone`,
      bearer(owner.accessToken, 'DELETE'),
    );
    expect(deleted.status).toBe(204);
    expect((await searchBoth(owner.accessToken, 'wombat')).results).toEqual([]);
  });

  it('refuses to cross tenants: another tenant’s message with the same word is not found', async () => {
    const theirs = await dialog(other.accessToken, { type: 'group', name: 'Theirs', memberIds: [] });
    await send(other.accessToken, theirs, 'capybara quarterly numbers');
    const ours = await group('Ours', [bob.userId]);
    await send(owner.accessToken, ours, 'capybara sighting');
    expect(bodies(await searchBoth(owner.accessToken, 'capybara'))).toEqual(['capybara sighting']);
    expect((await searchBoth(owner.accessToken, 'capybara', { dialogId: theirs })).results).toEqual([]);
    expect(bodies(await searchBoth(other.accessToken, 'capybara'))).toEqual(['capybara quarterly numbers']);
    // The same word gives unrelated tokens in two tenants: one tenant's index says nothing about another's.
    const hasher = new SearchTokenHasher(server.app.security.keyring);
    const tokenIn = (tenantId: string) =>
      server.app.storage.withTenant(tenantId, async (tx) =>
        (await hasher.forTenant(tx, tenantId))('capybara'),
      );
    expect(await tokenIn(owner.tenantId)).not.toBe(await tokenIn(other.tenantId));
    // So do word beginnings; and a beginning's token never equals the token of the same letters as a word.
    const prefixIn = (tenantId: string) =>
      server.app.storage.withTenant(tenantId, async (tx) =>
        (await hasher.forTenant(tx, tenantId, 'prefix'))('capyb'),
      );
    expect(await prefixIn(owner.tenantId)).not.toBe(await prefixIn(other.tenantId));
    const wordIn = (tenantId: string) =>
      server.app.storage.withTenant(tenantId, async (tx) => (await hasher.forTenant(tx, tenantId))('capyb'));
    expect(await prefixIn(owner.tenantId)).not.toBe(await wordIn(owner.tenantId));
  });

  it('shows edits at once and forgets deleted messages at once', async () => {
    const id = await group('Edits', [bob.userId]);
    const messageId = await send(owner.accessToken, id, 'meet at the lighthouse');
    expect((await search(bob.token, 'lighthouse')).results).toHaveLength(1);
    const edited = await server.request(
      `/v1/dialogs/${id}/messages/${messageId}`,
      json({ body: 'meet at the harbour' }, owner.accessToken, 'PATCH'),
    );
    expect(edited.status, edited.text).toBe(200);
    expect((await search(bob.token, 'lighthouse')).results).toEqual([]);
    expect(bodies(await search(bob.token, 'harbour'))).toEqual(['meet at the harbour']);
    // Nothing of the old text stays behind: one entry, on PostgreSQL with one term per distinct word of the
    // new text and per distinct beginning of 3, 5 or 8 characters (mee; the; har harbo).
    expect(await indexRows(messageId)).toBe(dialect === 'postgres' ? 1 + 4 + 4 : 1);
    expect((await search(bob.token, 'lighth*')).results).toEqual([]);
    expect(bodies(await search(bob.token, 'harb*'))).toEqual(['meet at the harbour']);

    const hiddenForBob = await send(owner.accessToken, id, 'harbour for owner eyes');
    const hidden = await server.request(
      `/v1/dialogs/${id}/messages/${hiddenForBob}?for=me`,
      bearer(bob.token, 'DELETE'),
    );
    expect(hidden.status, hidden.text).toBe(200);
    expect(bodies(await search(bob.token, 'harbour'))).toEqual(['meet at the harbour']);
    expect((await search(owner.accessToken, 'harbour', { dialogId: id })).results).toHaveLength(2);

    const removed = await server.request(
      `/v1/dialogs/${id}/messages/${messageId}?for=everyone`,
      bearer(owner.accessToken, 'DELETE'),
    );
    expect(removed.status, removed.text).toBe(200);
    expect((await search(bob.token, 'harbour')).results).toEqual([]);
    expect(bodies(await search(owner.accessToken, 'harbour'))).toEqual(['harbour for owner eyes']);
    expect(await indexRows(messageId)).toBe(0);
  });

  it('pages with a cursor: newest first, no repeats, nothing skipped', async () => {
    const id = await group('Paging', [bob.userId]);
    const texts = ['tapir', 'tapir tapir', 'tapir and more', 'tapir tapir tapir', 'a tapir', 'tapir again'];
    for (const text of texts) await send(owner.accessToken, id, text);
    const all = await search(bob.token, 'tapir', { dialogId: id, limit: '50' });
    expect(bodies(all)).toEqual([...texts].reverse());
    expect(all.nextCursor).toBeUndefined();
    const paged: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await search(bob.token, 'tapir', {
        dialogId: id,
        limit: '4',
        ...(cursor === undefined ? {} : { cursor }),
      });
      paged.push(...page.results.map((result) => result.message.id));
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    expect(paged).toEqual(all.results.map((result) => result.message.id));
  });

  it('refuses a query without words and a forged cursor', async () => {
    // Not a cursor; a cursor of the old (score, time, id) shape; positions neither engine gives.
    const forged = [['x', 1, 'y'], ['1 or 1=1'], ['0'], [7]].map((value) =>
      Buffer.from(JSON.stringify(value)).toString('base64url'),
    );
    const queries = ['q=%21%21%21', 'q=', 'q=tapir&cursor=bm90IGEgY3Vyc29y', 'q=tapir&dialogId=nope'];
    for (const query of [...queries, ...forged.map((cursor) => `q=tapir&cursor=${cursor}`)]) {
      const response = await server.request(`/v1/search/messages?${query}`, bearer(bob.token));
      expect(response.status, query).toBe(400);
    }
  });

  it('keeps no word of a message in the database or the logs, only keyed tokens', async () => {
    const id = await group('At rest', [bob.userId]);
    await send(owner.accessToken, id, 'The Quetzalcoatlus flies over Xochimilco tonight');
    expect(bodies(await search(bob.token, 'quetzalcoatlus xochimilco'))).toHaveLength(1);
    const raw = (await rawDatabase()).toString('latin1').toLowerCase();
    for (const word of ['quetzalcoatlus', 'xochimilco']) {
      expect(raw).not.toContain(word);
      expect(server.logs.text().toLowerCase()).not.toContain(word);
    }
    const tokens = await indexedTokens();
    expect(tokens.length).toBeGreaterThan(0);
    for (const token of tokens) expect(token).toMatch(/^[0-9a-f]{20}$/);
  });

  /** Everything the database has on disk (SQLite files) or in a dump of this test's schema (PostgreSQL). */
  async function rawDatabase(): Promise<Buffer> {
    if (dialect === 'sqlite') {
      const dir = server.database.dataDir;
      const files = readdirSync(dir).filter((name) => name.startsWith('parley.db'));
      return Buffer.concat(files.map((name) => readFileSync(path.join(dir, name))));
    }
    const { stdout } = await run(
      'pg_dump',
      ['--dbname', inject('postgresUrl'), '--schema', server.database.schema ?? 'public', '--data-only'],
      { maxBuffer: 64 * 1024 * 1024 },
    );
    return Buffer.from(stdout);
  }

  /** How many index rows a message has (PostgreSQL: its tsvector row and one row per distinct token). */
  async function indexRows(messageId: string): Promise<number> {
    const db = server.app.storage.kysely;
    const count = async (table: 'message_search' | 'message_search_terms') =>
      Number(
        (
          await db
            .selectFrom(table)
            .select((eb) => eb.fn.countAll().as('n'))
            .where('message_id', '=', messageId)
            .executeTakeFirstOrThrow()
        ).n,
      );
    return (
      (await count('message_search')) + (dialect === 'postgres' ? await count('message_search_terms') : 0)
    );
  }

  /** The distinct tokens in the index, read from the engine's own tables. */
  async function indexedTokens(): Promise<string[]> {
    const db = server.app.storage.kysely;
    if (dialect === 'sqlite') {
      await sql`create virtual table if not exists temp.search_vocab
        using fts5vocab(main, message_search_fts, 'row')`.execute(db);
      const { rows } = await sql<{ term: string }>`select term from temp.search_vocab`.execute(db);
      return rows.map((row) => row.term);
    }
    const { rows } = await sql<{ word: string }>`select distinct word from ts_stat(
      'select tokens from message_search')`.execute(db);
    return rows.map((row) => row.word);
  }
});
