import net from 'node:net';

/**
 * A TCP forwarder in front of the server for a client under test, which the test can make fail the way
 * networks do: drop every connection (a train enters a tunnel), or go silent towards the client while the
 * server still receives (the client's frames arrive and commit, the answers are lost). Unlike
 * `tcp-proxy.ts`, it keeps accepting new connections, so the client can reconnect through it.
 */
export interface FlakyProxy {
  port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** From now on, bytes from the server to the current connections are swallowed (new ones flow normally). */
  silenceDownstream(): void;
  /** Drops every current connection at once; new ones are accepted and forwarded normally. */
  dropConnections(): void;
  close(): Promise<void>;
}

interface Link {
  client: net.Socket;
  upstream: net.Socket;
  silenced: boolean;
}

export async function startFlakyProxy(targetHost: string, targetPort: number): Promise<FlakyProxy> {
  const links = new Set<Link>();
  let accepted = 0;
  const server = net.createServer((client) => {
    accepted += 1;
    const link: Link = { client, upstream: net.connect(targetPort, targetHost), silenced: false };
    links.add(link);
    const end = () => {
      links.delete(link);
      client.destroy();
      link.upstream.destroy();
    };
    for (const socket of [client, link.upstream]) {
      socket.on('close', end);
      socket.on('error', end);
    }
    client.on('data', (chunk: Buffer) => link.upstream.write(chunk));
    link.upstream.on('data', (chunk: Buffer) => {
      if (!link.silenced) client.write(chunk);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const dropConnections = () => {
    for (const link of links) {
      link.client.destroy();
      link.upstream.destroy();
    }
    links.clear();
  };
  return {
    port,
    get accepted() {
      return accepted;
    },
    silenceDownstream() {
      for (const link of links) link.silenced = true;
    },
    dropConnections,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        dropConnections();
      }),
  };
}
