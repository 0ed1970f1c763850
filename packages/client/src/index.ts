export { ParleyClient, ParleyApiError, type ParleyClientOptions } from './rest-client.ts';
