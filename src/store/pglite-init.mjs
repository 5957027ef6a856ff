// `node pglite-init.mjs <dir>`: creates an embedded database directory
// (PGlite's initdb) and exits, as PostgreSQL's own initdb is a program of its
// own. Creating a database runs three WebAssembly instances at once (initdb, a
// scratch PostgreSQL, the database itself: ~900 MB resident); in a process of
// its own, all of it is returned when it exits, instead of staying in the
// server until a garbage collection that may not come (or, on a worker thread,
// in the allocator's arenas). Plain JavaScript: it needs no TypeScript loader.
import { PGlite } from '@electric-sql/pglite';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node pglite-init.mjs <data-dir>');
  process.exit(2);
}
try {
  const db = await PGlite.create(dir);
  await db.close();
} catch (err) {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
}
