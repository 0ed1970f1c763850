import net from 'node:net';

/**
 * A TCP forwarder standing for a client's network link to the server (raw bytes: TLS stays end to end), which
 * a test can break the ways a real link breaks: `holdReplies()` stops passing the server's bytes to the client
 * (they are dropped, as on a link that died in one direction: what the client sent arrives, the answer never
 * does); `cut()` drops every connection and resets new ones until `restore()`, which also ends the hold.
 */
export interface LinkProxy {
  port: number;
  /** Connections reset while cut: the client's attempts to reconnect. */
  readonly refused: number;
  holdReplies(): void;
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startLinkProxy(targetHost: string, targetPort: number): Promise<LinkProxy> {
  const sockets = new Set<net.Socket>();
  let down = false;
  let holding = false;
  let refused = 0;
  const server = net.createServer((client) => {
    if (down) {
      refused += 1;
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect(targetPort, targetHost);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => {
        sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
      socket.on('error', () => socket.destroy());
    }
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      if (!holding) client.write(chunk);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const dropAll = () => {
    for (const socket of sockets) socket.destroy();
  };
  return {
    port,
    get refused() {
      return refused;
    },
    holdReplies() {
      holding = true;
    },
    cut() {
      down = true;
      dropAll();
    },
    restore() {
      down = false;
      holding = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        dropAll();
      }),
  };
}
