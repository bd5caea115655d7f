import pg from 'pg';

/** The server the tests use; each test gets a database of its own on it. */
export const PG_ADMIN_URL = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** `name`'s URL on the server of `base`. */
export const dbUrl = (name: string, base = PG_ADMIN_URL) => {
  const u = new URL(base);
  u.pathname = `/${name}`;
  return u.toString();
};

export async function adminQuery(sql: string, url = PG_ADMIN_URL): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
