import { Http } from './bench-http.js';

export { mapLimited as eachLimited } from './realtime-client.js';

/** REST calls to a bench server: HTTPS trusting its self-signed certificate, or plain HTTP behind no proxy. */
export class GrownHttp extends Http {
  constructor(url: string, ca: string) {
    super({ url, ca });
  }
}
