import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The CI machine's PostgreSQL (trust auth); override with FIRTH_TEST_POSTGRES. */
export const POSTGRES_ADMIN_URL =
  process.env.FIRTH_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A fresh, empty database for one test, dropped by the returned function. */
export async function createTempPostgres(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `firth_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    }
  };
}
