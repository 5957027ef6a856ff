/**
 * Print what a store holds, as one JSON line: events, alerts, incidents,
 * cases, dead letters and audit entries. `scripts/backup-check.sh` compares
 * a store with its restored copy through it. The store is the one the usual
 * settings choose: `--data-dir DIR` (or AISOC_DATA_DIR) for the embedded
 * database, AISOC_DATABASE_URL for PostgreSQL.
 *
 * @example node --import tsx scripts/store-counts.ts --data-dir .aisoc-demo
 */
import { loadConfig } from '../src/app-config.ts';
import { openStore, storeOptionsFromConfig } from '../src/store/index.ts';

const i = process.argv.indexOf('--data-dir');
const overrides = i > 0 && process.argv[i + 1] ? { data_dir: process.argv[i + 1] } : {};
const store = await openStore(storeOptionsFromConfig(loadConfig({ overrides })));
try {
  const counts = {
    events: await store.events.count(),
    alerts: await store.alerts.count(),
    incidents: (await store.incidents.list({ limit: 1 })).total,
    cases: (await store.cases.list({ limit: 1 })).total,
    dead_letters: await store.deadLetters.count(),
  };
  process.stdout.write(`${JSON.stringify(counts)}\n`);
} finally {
  await store.close();
}
