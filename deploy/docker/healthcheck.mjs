// The container's health check: GET /health answers 200 (no key needed).
// The URL is AISOC_HEALTH_URL, else http://127.0.0.1:8080/health. Exit 0
// when healthy, 1 otherwise, with the reason on stderr (docker inspect shows it).
const url = process.env.AISOC_HEALTH_URL || 'http://127.0.0.1:8080/health';
try {
  const res = await fetch(url, { signal: AbortSignal.timeout(4000) });
  if (res.status !== 200) {
    console.error(`${url} answered ${res.status}`);
    process.exit(1);
  }
} catch (err) {
  console.error(`${url}: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
