// The container's HEALTHCHECK: exit 0 when Parley in this container answers GET /readyz with 200, else 1.
// It asks over loopback, so the certificate (often the self-signed one) is not checked here; clients check it.
import http from 'node:http';
import https from 'node:https';
import process from 'node:process';

const port = Number(process.env.PARLEY_PORT ?? '8443');
const client = process.env.PARLEY_TLS_MODE === 'behind-proxy' ? http : https;

const request = client.get(
  { host: '127.0.0.1', port, path: '/readyz', timeout: 4000, rejectUnauthorized: false },
  (response) => {
    response.resume();
    process.exit(response.statusCode === 200 ? 0 : 1);
  },
);
request.on('timeout', () => {
  request.destroy(new Error('no answer in 4 s'));
});
request.on('error', (error) => {
  process.stderr.write(`healthcheck: ${error.message}\n`);
  process.exit(1);
});
