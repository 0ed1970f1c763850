import process from 'node:process';
import { defineConfig } from 'vite';

// The app calls Parley on its own origin: in development Vite forwards the API and the realtime socket to
// the server. Start Vite with NODE_EXTRA_CA_CERTS=<data dir>/tls/cert.pem to trust a self-signed certificate.
const target = process.env.PARLEY_URL ?? 'https://localhost:8443';
const proxy = { '/v1': { target, ws: true }, '/oauth': { target } };

export default defineConfig({ server: { proxy }, preview: { proxy } });
