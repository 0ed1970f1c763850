import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeCoturn, startCoturn, type Coturn } from '../support/coturn.ts';
import { bundleSdk, chromiumMissing, launchChromium, sdkPageRoutes } from '../support/browser-sdk.ts';
import { json, newTenantOwner, ownerPassword, signIn } from '../support/identity-fixtures.ts';
import { startTestServer, type TestServer } from '../support/start-server.ts';

/**
 * Calls as browsers make them: each page loads the SDK bundle, signs in as its own user and calls through a
 * running Parley with `client.calls`, Chromium's fake camera and microphone supplying the media. Promises: the
 * peer connections of a 1:1 and of a 3-person mesh reach `connected` with DTLS-SRTP and RTP flowing both ways;
 * with `iceTransportPolicy: 'relay'` the media goes through a real coturn using credentials Parley minted, and
 * expired credentials (a Parley whose clock runs two hours behind) never connect. Outside CI a missing
 * Chromium or coturn skips the suite with a printed reason; with CI=true it fails.
 */

const missing = chromiumMissing('browser calls');

/** How long a connection and the first RTP may take, and how long an expired-credential call is given. */
const CONNECT_MS = 20_000;
const EXPIRED_WAIT_MS = 12_000;

/** The page's own script (plain JavaScript), driving `client.calls` the way an app would. */
const PAGE_SCRIPT = `
window.callTest = (() => {
  let client;
  let stream;
  let call;
  const incoming = [];
  const ended = [];
  const wake = new Set();
  const notify = () => { for (const resolve of [...wake]) resolve(); };
  const until = (check, ms, what) => new Promise((resolve, reject) => {
    const timer = setTimeout(() => { wake.delete(tick); resolve(check(true)); }, ms);
    const tick = () => {
      const value = check(false);
      if (value === undefined) return;
      clearTimeout(timer);
      wake.delete(tick);
      resolve(value);
    };
    wake.add(tick);
    tick();
  });
  const peerErrors = [];
  const hooked = new WeakSet();
  const tracks = [];
  const hookPeers = () => {
    for (const pc of call?.peers.values() ?? []) {
      if (hooked.has(pc)) continue;
      hooked.add(pc);
      for (const type of ['signalingstatechange', 'iceconnectionstatechange', 'connectionstatechange'])
        pc.addEventListener(type, notify);
    }
  };
  wake.add(hookPeers);
  const watch = (c) => {
    call = c;
    c.on('peer.state', notify);
    c.on('peer.error', (event) => { peerErrors.push(String(event.error)); });
    c.on('state', notify);
    c.on('track', (event) => { tracks.push({ kind: event.track.kind, streamId: event.streams[0]?.id }); notify(); });
    c.on('ended', (event) => { ended.push(event.outcome); notify(); });
  };
  const peerStates = () => [...call.peers.values()].map((pc) => pc.connectionState);
  async function peerStats(pc) {
    const report = await pc.getStats();
    const stats = { transports: [], inbound: [], localCandidateTypes: [], pair: null };
    report.forEach((entry) => {
      if (entry.type === 'transport') stats.transports.push({
        dtlsState: entry.dtlsState, srtpCipher: entry.srtpCipher, pairId: entry.selectedCandidatePairId,
      });
      if (entry.type === 'inbound-rtp') stats.inbound.push({ kind: entry.kind, packetsReceived: entry.packetsReceived });
      if (entry.type === 'local-candidate') stats.localCandidateTypes.push(entry.candidateType);
    });
    const pairId = stats.transports.find((entry) => entry.pairId)?.pairId;
    const pair = pairId && report.get(pairId);
    if (pair) stats.pair = {
      state: pair.state,
      local: report.get(pair.localCandidateId)?.candidateType,
      remote: report.get(pair.remoteCandidateId)?.candidateType,
    };
    return stats;
  }
  return {
    async start({ tenantId, username, password, iceTransportPolicy }) {
      client = new Parley.ParleyClient({
        baseUrl: location.origin,
        calls: iceTransportPolicy ? { iceTransportPolicy } : {},
      });
      await client.auth.signIn({ tenantId, username, password, scope: 'profile chat calls' });
      client.calls.on('incoming', (c) => { incoming.push(c); notify(); });
      client.realtime.connect();
      const session = await client.realtime.whenReady();
      stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
      return { userId: session.userId, deviceId: client.realtime.deviceId };
    },
    async call(to, media) {
      watch(await client.calls.start(to, { media, stream }));
      return call.id;
    },
    async answer(ms) {
      const ringing = await until(() => incoming[0], ms);
      if (!ringing) throw new Error('no incoming call');
      watch(await client.calls.accept(ringing.id, { stream }));
      return { callId: ringing.id, callerId: ringing.callerId, media: ringing.media };
    },
    /** Resolves once \`count\` peer connections are connected (or with their states after \`ms\`). */
    connected(count, ms) {
      return until((late) => {
        const states = peerStates();
        const done = states.length === count && states.every((state) => state === 'connected');
        return done || late ? states : undefined;
      }, ms);
    },
    /** The peers' stats once every peer receives audio and video RTP (or as they are after \`ms\`). */
    async flowing(ms) {
      const deadline = Date.now() + ms;
      for (;;) {
        const stats = await Promise.all([...call.peers.values()].map(peerStats));
        const kinds = (s) => ['audio', 'video'].every((kind) =>
          s.inbound.some((entry) => entry.kind === kind && entry.packetsReceived > 0));
        if (stats.every(kinds) || Date.now() > deadline) return stats;
        // RTP statistics have no event: sampled, as often as Chromium refreshes them.
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    },
    /** Sends a second video track (a clone of the camera) in a stream of its own; answers its stream id. */
    addTrack() {
      const extra = new MediaStream([stream.getVideoTracks()[0].clone()]);
      call.addTrack(extra.getVideoTracks()[0], extra);
      return extra.id;
    },
    /** Resolves true once a remote track of the given stream arrived (false after \`ms\`). */
    trackOf(streamId, ms) {
      return until((late) => (tracks.some((entry) => entry.streamId === streamId) ? true : late ? false : undefined), ms);
    },
    /** The local and remote ICE username fragments of the (only) peer connection. */
    ufrags() {
      const [pc] = call.peers.values();
      const ufrag = (description) => /a=ice-ufrag:(\\S+)/.exec(description?.sdp ?? '')?.[1];
      return { local: ufrag(pc.currentLocalDescription), remote: ufrag(pc.currentRemoteDescription) };
    },
    restartIce() {
      return call.restartIce();
    },
    /** Resolves once both ICE fragments differ from \`before\`, negotiation is done and the peer is connected. */
    restarted(before, ms) {
      return until((late) => {
        const [pc] = call.peers.values();
        const now = this.ufrags();
        const done = now.local !== before.local && now.remote !== before.remote &&
          pc.signalingState === 'stable' && pc.connectionState === 'connected';
        return done || late ? { ...now, signalingState: pc.signalingState, connectionState: pc.connectionState } : undefined;
      }, ms);
    },
    stats() {
      return Promise.all([...call.peers.values()].map(peerStats));
    },
    hangup() {
      return call.hangup();
    },
    ended(ms) {
      return until((late) => (ended.length > 0 ? ended[0] : late ? null : undefined), ms);
    },
    /** Negotiation steps that failed (an ignored colliding offer is not one). */
    peerErrors() {
      return peerErrors;
    },
    close() {
      for (const track of stream?.getTracks() ?? []) track.stop();
      client.realtime.close();
    },
  };
})();
`;

interface PeerStats {
  transports: { dtlsState: string; srtpCipher?: string; pairId?: string }[];
  inbound: { kind: string; packetsReceived: number }[];
  localCandidateTypes: string[];
  pair: { state: string; local?: string; remote?: string } | null;
}

interface Member {
  userId: string;
  email: string;
  password: string;
}

/** A tenant of three (the owner Alice, Bob and Carol) sharing one group dialog. */
async function threeMembers(server: TestServer, name: string) {
  const owner = await newTenantOwner(server, name);
  const password = 'plum tree under the winter moon';
  const members: Member[] = [{ userId: owner.userId, email: owner.email, password: ownerPassword }];
  for (const who of ['bob', 'carol']) {
    const email = `${who}-${owner.tenantId.slice(-6)}@calls.example`;
    const created = await server.request(
      '/v1/users',
      json({ displayName: who, email, password, roles: ['member'] }, owner.accessToken),
    );
    if (created.status !== 201) throw new Error(`create user: ${created.text}`);
    // Made by the owner: a first sign-in accepts the required purposes, so the page's sign-in gets a full token.
    await signIn(server, owner.tenantId, email, password);
    members.push({ userId: created.json<{ userId: string }>().userId, email, password });
  }
  const dialog = await server.request(
    '/v1/dialogs',
    json(
      { type: 'group', name: 'Call room', memberIds: members.slice(1).map((member) => member.userId) },
      owner.accessToken,
    ),
  );
  if (dialog.status !== 201) throw new Error(`create dialog: ${dialog.text}`);
  return { tenantId: owner.tenantId, members, dialogId: dialog.json<{ id: string }>().id };
}

describe.skipIf(missing !== undefined)('calls between browsers (Chromium, fake media)', () => {
  let sdk: string;
  let chromium: Awaited<ReturnType<typeof launchChromium>>;
  const pages: Page[] = [];
  const pageErrors: string[] = [];

  beforeAll(async () => {
    sdk = (await bundleSdk()).code;
    chromium = await launchChromium([
      '--use-fake-device-for-media-stream',
      '--use-fake-ui-for-media-stream',
      // Three pages call at once: none may be throttled as a background tab.
      '--disable-background-timer-throttling',
      '--disable-renderer-backgrounding',
      '--disable-backgrounding-occluded-windows',
    ]);
  });

  afterAll(async () => {
    await chromium.close();
  });

  /** A page of `server` signed in as `member`, with camera and microphone open. */
  async function signedInPage(
    server: TestServer,
    tenantId: string,
    member: Member,
    iceTransportPolicy?: 'relay',
  ): Promise<Page> {
    const page = await chromium.browser.newPage();
    pages.push(page);
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(`${server.url}/test/sdk-page`);
    const started = await page.evaluate<{ userId: string; deviceId: string }>(
      `window.callTest.start(${JSON.stringify({
        tenantId,
        username: member.email,
        password: member.password,
        iceTransportPolicy,
      })})`,
    );
    expect(started.userId).toBe(member.userId);
    return page;
  }

  async function closePages(): Promise<void> {
    for (const page of pages.splice(0)) {
      await page.evaluate('window.callTest.close()').catch(() => undefined);
      await page.close();
    }
  }

  const connected = (page: Page, count: number, ms = CONNECT_MS) =>
    page.evaluate<string[]>(`window.callTest.connected(${String(count)}, ${String(ms)})`);
  const flowing = (page: Page) =>
    page.evaluate<PeerStats[]>(`window.callTest.flowing(${String(CONNECT_MS)})`);

  /** DTLS-SRTP up on the selected transport, and audio and video RTP received from every peer. */
  function expectMediaFlowing(stats: PeerStats[], peers: number): void {
    expect(stats).toHaveLength(peers);
    for (const peer of stats) {
      const transport = peer.transports.find((entry) => entry.pairId);
      expect(transport?.dtlsState).toBe('connected');
      expect(transport?.srtpCipher).toMatch(/AES/);
      for (const kind of ['audio', 'video'])
        expect(
          peer.inbound.filter((entry) => entry.kind === kind && entry.packetsReceived > 0),
          `${kind} RTP received`,
        ).not.toHaveLength(0);
    }
  }

  describe('through a Parley without STUN or TURN (host candidates)', () => {
    let server: TestServer;
    let room: Awaited<ReturnType<typeof threeMembers>>;

    beforeAll(async () => {
      server = await startTestServer({ extraRoutes: sdkPageRoutes(sdk, PAGE_SCRIPT) });
      room = await threeMembers(server, 'Browser Call Clinic');
    });

    afterAll(async () => {
      await closePages();
      await server.close();
    });

    it('connects two users in a 1:1 video call with DTLS-SRTP and RTP flowing both ways, and ends it as completed', async () => {
      const [alice, bob] = room.members as [Member, Member, Member];
      const alicePage = await signedInPage(server, room.tenantId, alice);
      const bobPage = await signedInPage(server, room.tenantId, bob);
      const answering = bobPage.evaluate<{ callId: string; callerId: string; media: string }>(
        `window.callTest.answer(${String(CONNECT_MS)})`,
      );
      const callId = await alicePage.evaluate<string>(
        `window.callTest.call(${JSON.stringify({ userId: bob.userId })}, 'video')`,
      );
      expect(await answering).toEqual({ callId, callerId: alice.userId, media: 'video' });
      expect(await connected(alicePage, 1)).toEqual(['connected']);
      expect(await connected(bobPage, 1)).toEqual(['connected']);
      expectMediaFlowing(await flowing(alicePage), 1);
      expectMediaFlowing(await flowing(bobPage), 1);

      await alicePage.evaluate('window.callTest.hangup()');
      expect(await bobPage.evaluate(`window.callTest.ended(${String(CONNECT_MS)})`)).toBe('completed');
      await closePages();
      expect(pageErrors).toEqual([]);
    }, 60_000);

    it('renegotiates when a track is added, and restarts ICE from both sides at once (glare) without dropping the call', async () => {
      const [alice, bob] = room.members as [Member, Member, Member];
      const alicePage = await signedInPage(server, room.tenantId, alice);
      const bobPage = await signedInPage(server, room.tenantId, bob);
      const answering = bobPage.evaluate(`window.callTest.answer(${String(CONNECT_MS)})`);
      await alicePage.evaluate(`window.callTest.call(${JSON.stringify({ userId: bob.userId })}, 'video')`);
      await answering;
      for (const page of [alicePage, bobPage]) expect(await connected(page, 1)).toEqual(['connected']);

      // Bob shares a second video (a screen, say): a new offer from Bob, and Alice gets the track.
      const streamId = await bobPage.evaluate<string>('window.callTest.addTrack()');
      expect(
        await alicePage.evaluate(
          `window.callTest.trackOf(${JSON.stringify(streamId)}, ${String(CONNECT_MS)})`,
        ),
      ).toBe(true);

      // Both restart ICE at the same moment: two offers cross; the polite side yields, one restart wins.
      const before = await Promise.all(
        [alicePage, bobPage].map((page) =>
          page.evaluate<{ local: string; remote: string }>('window.callTest.ufrags()'),
        ),
      );
      await Promise.all([alicePage, bobPage].map((page) => page.evaluate('window.callTest.restartIce()')));
      const after = await Promise.all(
        [alicePage, bobPage].map((page, index) =>
          page.evaluate(`window.callTest.restarted(${JSON.stringify(before[index])}, ${String(CONNECT_MS)})`),
        ),
      );
      for (const [index, each] of after.entries()) {
        expect(each).toMatchObject({ signalingState: 'stable', connectionState: 'connected' });
        expect(each).not.toMatchObject({ local: before[index]?.local });
        expect(each).not.toMatchObject({ remote: before[index]?.remote });
      }
      expect(after[0]).toMatchObject({ local: (after[1] as { remote: string }).remote });
      expectMediaFlowing(await flowing(alicePage), 1);
      for (const page of [alicePage, bobPage])
        expect(await page.evaluate('window.callTest.peerErrors()')).toEqual([]);

      await bobPage.evaluate('window.callTest.hangup()');
      expect(await alicePage.evaluate(`window.callTest.ended(${String(CONNECT_MS)})`)).toBe('completed');
      await closePages();
      expect(pageErrors).toEqual([]);
    }, 60_000);

    it('connects a group call of three as a full mesh, every pair with RTP flowing', async () => {
      const pagesOf = [];
      for (const member of room.members) pagesOf.push(await signedInPage(server, room.tenantId, member));
      const [alicePage, bobPage, carolPage] = pagesOf as [Page, Page, Page];
      const answers = [bobPage, carolPage].map((page) =>
        page.evaluate<{ callId: string }>(`window.callTest.answer(${String(CONNECT_MS)})`),
      );
      const callId = await alicePage.evaluate<string>(
        `window.callTest.call(${JSON.stringify({ dialogId: room.dialogId })}, 'video')`,
      );
      for (const answer of await Promise.all(answers)) expect(answer.callId).toBe(callId);
      for (const page of pagesOf) expect(await connected(page, 2)).toEqual(['connected', 'connected']);
      for (const page of pagesOf) expectMediaFlowing(await flowing(page), 2);

      await bobPage.evaluate('window.callTest.hangup()');
      await carolPage.evaluate('window.callTest.hangup()');
      expect(await alicePage.evaluate(`window.callTest.ended(${String(CONNECT_MS)})`)).toBe('completed');
      await closePages();
      expect(pageErrors).toEqual([]);
    }, 90_000);
  });

  describeCoturn('relay only, through a real coturn with credentials Parley minted', () => {
    let coturn: Coturn;
    const servers: TestServer[] = [];

    const turnEnv = () => ({
      PARLEY_TURN_URLS: `turn:${coturn.host}:${String(coturn.port)}?transport=udp`,
      PARLEY_TURN_SECRET: coturn.secret,
      PARLEY_TURN_TTL_SECONDS: '3600',
    });

    beforeAll(async () => {
      coturn = await startCoturn();
    });

    afterAll(async () => {
      await closePages();
      for (const server of servers) await server.close();
      await coturn.stop();
    });

    /** Alice calls Bob, both with `iceTransportPolicy: 'relay'`; answers both pages. */
    async function relayCall(server: TestServer, name: string): Promise<[Page, Page]> {
      servers.push(server);
      const room = await threeMembers(server, name);
      const [alice, bob] = room.members as [Member, Member, Member];
      const alicePage = await signedInPage(server, room.tenantId, alice, 'relay');
      const bobPage = await signedInPage(server, room.tenantId, bob, 'relay');
      const answering = bobPage.evaluate(`window.callTest.answer(${String(CONNECT_MS)})`);
      await alicePage.evaluate(`window.callTest.call(${JSON.stringify({ userId: bob.userId })}, 'video')`);
      await answering;
      return [alicePage, bobPage];
    }

    it('connects through the TURN relay alone: the selected candidate pair is relay on both ends', async () => {
      const server = await startTestServer({ env: turnEnv(), extraRoutes: sdkPageRoutes(sdk, PAGE_SCRIPT) });
      const [alicePage, bobPage] = await relayCall(server, 'Relay Clinic');
      for (const page of [alicePage, bobPage]) {
        expect(await connected(page, 1), coturn.log()).toEqual(['connected']);
        const stats = await flowing(page);
        expectMediaFlowing(stats, 1);
        expect(stats[0]?.pair).toMatchObject({ state: 'succeeded', local: 'relay', remote: 'relay' });
        expect(new Set(stats[0]?.localCandidateTypes)).toEqual(new Set(['relay']));
      }
      await alicePage.evaluate('window.callTest.hangup()');
      await closePages();
      expect(pageErrors).toEqual([]);
    }, 60_000);

    it('never connects with expired TURN credentials (minted by a Parley whose clock runs two hours behind)', async () => {
      const server = await startTestServer({
        env: turnEnv(),
        extraRoutes: sdkPageRoutes(sdk, PAGE_SCRIPT),
        clock: { now: () => Date.now() - 2 * 3600_000 },
      });
      const [alicePage, bobPage] = await relayCall(server, 'Expired Relay Clinic');
      const states = await Promise.all(
        [alicePage, bobPage].map((page) => connected(page, 1, EXPIRED_WAIT_MS)),
      );
      // Signaling worked (each side has its peer connection); only ICE has nothing to connect over.
      for (const each of states) {
        expect(each).toHaveLength(1);
        expect(each).not.toContain('connected');
      }
      for (const page of [alicePage, bobPage]) {
        const [stats] = await page.evaluate<PeerStats[]>('window.callTest.stats()');
        // coturn refused the allocation (401): no relay candidate, so nothing to connect over.
        expect(stats?.localCandidateTypes).not.toContain('relay');
        expect(stats?.pair?.state).not.toBe('succeeded');
      }
      await closePages();
    }, 60_000);
  });
});
