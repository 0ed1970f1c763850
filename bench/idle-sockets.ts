import type { CpuMeter } from './cpu-meter.js';
import { closeAll } from './realtime-client.js';
import { type ServerContext, connectAll } from './realtime-scenarios.js';

const MiB = 2 ** 20;
const round = (value: number, digits = 1): number => Math.round(value * 10 ** digits) / 10 ** digits;
const sleep = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms);
  });

/**
 * Many authenticated sockets doing nothing (issue 11: 10,000 under 1 GiB): the server's resident memory
 * before, and 3 s after the last one authenticated (handshake buffers released), its CPU while they idle,
 * and the machine's noise over that time. `idleUsers` users' tokens are shared between the sockets (several
 * devices each): a socket still does its own handshake, `auth` frame, token check and bus subscription.
 */
export async function idleScenario(
  context: ServerContext,
  meter: CpuMeter,
  prefix: string,
): Promise<Record<string, number>> {
  const { idleConnections, idleUsers, idleSeconds } = context.options;
  const userCount = Math.max(1, Math.min(idleUsers, context.fixture.users.length));
  const indices = Array.from({ length: idleConnections }, (_, index) => index % userCount);
  const before = meter.sample();
  const sockets = await connectAll(context, indices);
  const connected = meter.sample();
  await sleep(3000);
  const settled = meter.sample();
  await sleep(idleSeconds * 1000);
  const idle = meter.sample();
  const open = sockets.filter((socket) => socket.open).length;
  await closeAll(sockets);
  const connecting = meter.usage(before, connected);
  const idling = meter.usage(settled, idle);
  const connectSeconds = (connected.at - before.at) / 1000;
  console.log(
    `realtime: ${prefix} idle: ${open.toLocaleString('en-US')} sockets open, server ` +
      `${round(before.serverRssBytes / MiB, 0)} → ${round(settled.serverRssBytes / MiB, 0)} MiB, idle CPU ` +
      `${round(idling.serverCpuPercent)}%, noise ${round(idling.noisePercent, 0)}%`,
  );
  return {
    [`${prefix}IdleConnections`]: open,
    [`${prefix}IdleConnectsPerSecond`]: round(sockets.length / connectSeconds, 0),
    // Server CPU per connection set up (TLS handshake, upgrade, auth frame, subscription).
    [`${prefix}IdleConnectServerCpuMs`]: round(
      (connecting.serverCpuPercent * 10 * connectSeconds) / Math.max(1, sockets.length),
      2,
    ),
    [`${prefix}IdleRssBeforeMiB`]: round(before.serverRssBytes / MiB, 0),
    [`${prefix}IdleRssMiB`]: round(settled.serverRssBytes / MiB, 0),
    [`${prefix}IdlePerConnectionKiB`]: round(
      (settled.serverRssBytes - before.serverRssBytes) / 1024 / Math.max(1, sockets.length),
    ),
    [`${prefix}IdleServerCpuPercent`]: round(idling.serverCpuPercent),
    [`${prefix}IdleNoisePercent`]: round(idling.noisePercent, 0),
  };
}
