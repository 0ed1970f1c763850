import { Command } from 'commander';
import { loadConfig } from '../config.ts';

export function startCommand(): Command {
  return new Command('start')
    .description('Serve HTTPS and WSS (migrates the database first)')
    .action(async () => {
      const config = loadConfig();
      // Loaded here, not at the top: every other command, and `parley --help`, starts without the server.
      const [{ createApp }, { certificateFingerprint }] = await Promise.all([
        import('../app.ts'),
        import('../bootstrap/self-signed-cert.ts'),
      ]);
      const app = await createApp(config);
      const url = await app.listen();
      const stop = (signal: string) => {
        app.logger.info({ signal }, 'shutting down');
        void app.shutdown().then(
          () => process.exit(0),
          (error: unknown) => {
            app.logger.error({ err: error }, 'shutdown failed');
            process.exit(1);
          },
        );
      };
      // `on`, not `once`: a second signal during the drain must not fall back to the default (instant death).
      process.on('SIGTERM', () => {
        stop('SIGTERM');
      });
      process.on('SIGINT', () => {
        stop('SIGINT');
      });
      process.on('SIGHUP', () => {
        app.reloadTls();
      });
      const storageNote = config.databaseUrl ? 'PostgreSQL' : `SQLite at ${config.dataDir}/parley.db`;
      const lines = [
        `Parley is listening on ${url} (storage: ${storageNote}; fan-out: ${config.redisUrl ? 'Redis' : 'in-process'})`,
      ];
      if (app.tls && !config.tlsCert) {
        lines.push(
          `TLS: self-signed certificate ${app.tls.certFile}`,
          `     SHA-256 fingerprint ${certificateFingerprint(app.tls.certFile)}`,
          `     e.g. curl --cacert ${app.tls.certFile} ${url}/readyz`,
        );
      }
      lines.push(
        'Bootstrap the first tenant:  npx parley tenant create --name "Your Company"',
        '  (prints the tenant id and a one-time owner setup token)',
      );
      // For the person at the terminal: on stderr, so stdout carries JSON log lines only (log shippers parse it).
      process.stderr.write(`${lines.join('\n')}\n`);
    });
}
