import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';

/** Every file of a .tar.gz by path, as a tar reader sees it (concatenated gzip members read as one stream). */
export async function unpackArchive(archive: Buffer): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const extract = tar.extract();
  const reading = (async () => {
    for await (const entry of extract) {
      const pieces: Buffer[] = [];
      for await (const piece of entry) pieces.push(piece as Buffer);
      files.set(entry.header.name, Buffer.concat(pieces));
    }
  })();
  await pipeline(Readable.from([archive]), createGunzip(), extract);
  await reading;
  return files;
}
