import { createServer, connect, type Socket } from 'node:net';

export interface TcpProxy {
  port: number;
  /** Cuts every open connection and refuses new ones (`true`), or relays again (`false`): the target looks down, then back. */
  setDown(down: boolean): void;
  close(): Promise<void>;
}

/** A TCP relay on 127.0.0.1 to `targetPort`, so a test can make a shared server (Postgres) vanish for one client. */
export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let down = false;
  const server = createServer((client) => {
    if (down) return void client.destroy();
    const upstream = connect(targetPort, targetHost);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => { client.destroy(); upstream.destroy(); });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const cut = () => { for (const s of sockets) s.destroy(); };
  return {
    port: (server.address() as { port: number }).port,
    setDown(d) {
      down = d;
      if (d) cut();
    },
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      cut();
    }),
  };
}
