/** The files of a backup directory besides `manifest.json`, each encrypted under the backup key. */

/** A full backup: the whole database file at the backup point. */
export const DATABASE_FILE = 'database.enc';
/** An incremental backup: the pages that changed since its parent, as `page number u32 | page` records. */
export const PAGES_FILE = 'pages.enc';
/** Every backup: the SHA-256 of each page, so the next incremental can tell which pages changed. */
export const PAGE_MAP_FILE = 'pagemap.enc';

/** The name of the embedded database in a data directory (storage/database.ts). */
export const DATABASE_FILE_NAME = 'parley.db';
