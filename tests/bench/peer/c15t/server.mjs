// Benchmark peer (b): c15t's own backend (@c15t/backend with Kysely on
// PostgreSQL) behind the same nginx. Not shipped, not a test.
//   node server.mjs PORT DATABASE_URL
import http from 'node:http';
import { c15tInstance } from '@c15t/backend';
import { kyselyAdapter } from '@c15t/backend/db/adapters/kysely';
import { DB } from '@c15t/backend/db/schema';
import { migrator } from '@c15t/backend/db/migrator';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';

const [port, url] = process.argv.slice(2);
const db = new Kysely({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 20 }) }) });
const adapter = kyselyAdapter({ db, provider: 'postgresql' });
const m = await migrator({ db: DB.client(adapter), schema: 'latest' });
if (m && typeof m.execute === 'function') await m.execute();

const c15t = c15tInstance({
	appName: 'bench',
	basePath: '/',
	trustedOrigins: ['http://127.0.0.1'],
	adapter,
	logger: { level: 'error' },
});

http.createServer(async (req, res) => {
	const chunks = [];
	for await (const c of req) chunks.push(c);
	const body = chunks.length ? Buffer.concat(chunks) : undefined;
	const headers = new Headers();
	for (const [k, v] of Object.entries(req.headers)) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
	const r = await c15t.handler(new Request(`http://127.0.0.1:${port}${req.url}`,
		{ method: req.method, headers, body: req.method === 'GET' || req.method === 'HEAD' ? undefined : body }));
	const out = Buffer.from(await r.arrayBuffer());
	res.writeHead(r.status, Object.fromEntries(r.headers));
	res.end(out);
}).listen(Number(port), '127.0.0.1', () => console.error(`c15t peer on 127.0.0.1:${port}`));
