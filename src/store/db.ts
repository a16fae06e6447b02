import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import {
  Kysely,
  PostgresDialect,
  type SqliteDatabase,
  SqliteDialect,
  type SqliteStatement,
  sql,
} from 'kysely';
import pg from 'pg';
import { migrate } from './migrations.js';
import { statementName } from './prepared.js';
import type { Database } from './schema.js';
import { SqliteTransactions } from './sqlite-tx.js';

export type Db = Kysely<Database>;
export type DialectName = 'sqlite' | 'postgres';

/**
 * The one place where SQLite and PostgreSQL differ. Everything above it
 * writes one query for both.
 */
export interface Store {
  db: Db;
  /**
   * For hot reads outside a transaction (the API key, the OTP a verify is
   * about) that should not queue behind a write. On SQLite a second,
   * read-only connection: the writer holds its connection from BEGIN to
   * COMMIT of a whole group (sqlite-tx.ts), and a read on `db` waited for
   * all of it. The reader sees what was committed, as such a read did. On
   * PostgreSQL (and an in-memory SQLite) it is `db`. Use `readsOf(store)`.
   */
  read?: Db;
  dialect: DialectName;
  /** Runs `fn` in a write transaction, retrying on deadlock or busy database. */
  tx<T>(fn: (trx: Db) => Promise<T>): Promise<T>;
  /** Whether `SELECT … FOR UPDATE SKIP LOCKED` exists (PostgreSQL). */
  rowLocks: boolean;
  close(): Promise<void>;
}

/** Where a hot read outside a transaction goes: the reader if the store has one. */
export const readsOf = (store: Store): Db => store.read ?? store.db;

export interface StoreOptions {
  /** `postgres://…` or a SQLite file path (`:memory:` for tests). */
  url: string;
  /** Largest number of pooled PostgreSQL connections. */
  poolSize?: number;
  /** How long a query waits for a pooled PostgreSQL connection before it fails (then 503, not a pile-up). */
  connectTimeoutMs?: number;
  /** PostgreSQL's statement_timeout for every query but the migrations; 0 = none. */
  statementTimeoutMs?: number;
  /** An idle pooled connection broke (the server restarted, say): the pool replaces it on the next query. */
  onConnectionError?: (error: Error) => void;
}

export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//.test(url);
}

export async function openStore(options: StoreOptions): Promise<Store> {
  if (!isPostgresUrl(options.url)) {
    const store = openSqlite(options.url);
    await migrate(store.db as Kysely<unknown>);
    return store;
  }
  // Migrations run on a connection of their own, without the statement timeout
  // (an index on a big table may take minutes); the pool is for everything else.
  const migrator = openPostgres({ url: options.url, poolSize: 1, statementTimeoutMs: 0 });
  try {
    await migrate(migrator.db as Kysely<unknown>);
  } finally {
    await migrator.close();
  }
  return openPostgres(options);
}

function openSqlite(file: string): Store {
  // A fresh data dir (OTPD_SECRET given, so nothing was written there yet) must not stop the start.
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const native = new SQLite(file);
  // First, so that switching a fresh file to WAL waits for another process starting too.
  native.pragma('busy_timeout = 5000');
  native.pragma('journal_mode = WAL');
  // WAL with synchronous=NORMAL survives a killed process; only power loss can lose the tail.
  native.pragma('synchronous = NORMAL');
  native.pragma('foreign_keys = ON');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: cachingStatements(native) }) });
  const transactions = new SqliteTransactions(db);
  // WAL lets a reader run while the writer's transaction is open; it reads the last commit.
  const reader =
    file === ':memory:'
      ? undefined
      : new Kysely<Database>({
          dialect: new SqliteDialect({ database: cachingStatements(openReader(file)) }),
        });
  return {
    db,
    read: reader ?? db,
    dialect: 'sqlite',
    rowLocks: false,
    // BEGIN IMMEDIATE takes the write lock up front: a transaction that reads
    // then writes can then never fail with SQLITE_BUSY_SNAPSHOT when another
    // process wrote in between, and all writers queue on busy_timeout.
    // Transactions that arrive together share one commit (sqlite-tx.ts).
    tx: (fn) => transactions.run(fn),
    close: async () => {
      await reader?.destroy();
      await db.destroy();
    },
  };
}

function openReader(file: string): SQLite.Database {
  const native = new SQLite(file, { readonly: true, fileMustExist: true });
  native.pragma('busy_timeout = 5000');
  return native;
}

/**
 * Reuses prepared statements: Kysely's driver prepares every query anew,
 * which was a tenth of a send's CPU (verify +35 %, send +11 % requests/s).
 */
function cachingStatements(native: SQLite.Database, size = 500): SqliteDatabase {
  const cache = new Map<string, SqliteStatement>();
  return {
    close: () => native.close(),
    prepare(text: string): SqliteStatement {
      let statement = cache.get(text);
      if (!statement) {
        statement = native.prepare(text) as unknown as SqliteStatement;
        if (cache.size >= size) cache.delete(cache.keys().next().value!);
        cache.set(text, statement);
      }
      return statement;
    },
  };
}

function openPostgres(options: StoreOptions): Store {
  const statementTimeout = options.statementTimeoutMs ?? 0;
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize ?? 10,
    // Bounded: with every connection busy (a slow or unreachable database) a
    // query fails after this wait instead of queueing requests without end.
    connectionTimeoutMillis: options.connectTimeoutMs ?? 2_000,
    ...(statementTimeout > 0 ? { statement_timeout: statementTimeout } : {}),
    keepAlive: true,
    // int8 (bigint) columns hold millisecond timestamps and micro-units: safe as numbers.
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === 20
          ? (value: string) => Number(value)
          : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
    },
  });
  // Without a listener, an idle connection that breaks (the server restarts)
  // would crash the process; the pool drops it and connects anew when asked.
  pool.on('error', (error) => options.onConnectionError?.(error));
  // The same for a connection that breaks while checked out between two
  // queries (pg-pool listens only on idle ones): its next query fails (503)
  // and the pool drops it when it comes back.
  pool.on('connect', (client) => {
    client.on('error', () => {});
    namePreparedStatements(client);
  });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return {
    db,
    read: db,
    dialect: 'postgres',
    rowLocks: true,
    tx: (fn) => withRetry(() => db.transaction().execute(fn)),
    close: () => db.destroy(),
  };
}

/**
 * Runs otpd's prepared queries (prepared.ts) as named statements on this
 * connection: PostgreSQL parses and plans each once per connection, not on
 * every call. Everything else passes through as it came.
 */
function namePreparedStatements(client: pg.PoolClient): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  client.query = ((...args: unknown[]) => {
    const [text, values] = args;
    const name = args.length === 2 && typeof text === 'string' ? statementName(text) : undefined;
    return name ? query({ name, text, values }) : query(...args);
  }) as typeof client.query;
}

const RETRYABLE = new Set(['40P01', '40001', 'SQLITE_BUSY', 'SQLITE_BUSY_SNAPSHOT']);

/** SQLITE_BUSY after this long is busy_timeout running out: another wait would only pile requests up. */
const BUSY_GAVE_UP_MS = 1_000;

async function withRetry<T>(run: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const started = Date.now();
    try {
      return await run();
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (attempt >= 5 || !code || !RETRYABLE.has(code)) throw error;
      if (code.startsWith('SQLITE_BUSY') && Date.now() - started >= BUSY_GAVE_UP_MS) throw error;
      await new Promise((r) => setTimeout(r, attempt * 10 + Math.random() * 20));
    }
  }
}

/** Why the database cannot answer now, and when to try again. */
export interface Unavailable {
  message: string;
  /** Seconds. */
  retryAfter: number;
}

/** PostgreSQL's SQLSTATEs for a server that is down, starting, overloaded, out of space or too slow. */
const PG_UNAVAILABLE: Record<string, Unavailable> = {
  '57P01': { message: 'The database is restarting.', retryAfter: 5 },
  '57P02': { message: 'The database is restarting.', retryAfter: 5 },
  '57P03': { message: 'The database is starting up.', retryAfter: 5 },
  '53300': { message: 'The database has too many connections.', retryAfter: 2 },
  '53100': { message: "The database server's disk is full.", retryAfter: 5 },
  '53200': { message: 'The database is out of memory.', retryAfter: 5 },
  '57014': { message: 'The database is too slow to answer.', retryAfter: 2 },
  '55P03': { message: 'The database is too busy to answer.', retryAfter: 1 },
};
const UNREACHABLE: Unavailable = { message: 'The database is not reachable.', retryAfter: 5 };
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'EAI_AGAIN',
]);
/** node-postgres says these without a code; its messages are all there is to go by. */
const PG_POOL_MESSAGES: [RegExp, Unavailable][] = [
  [
    /timeout exceeded when trying to connect/i,
    { message: 'The database is too busy to answer.', retryAfter: 1 },
  ],
  [/^Connection terminated|not queryable|Cannot use a pool after calling end/i, UNREACHABLE],
];

/**
 * Whether `error` says the database cannot serve now (down, restarting,
 * every connection busy, a statement timed out, SQLite busy past its
 * timeout, a full disk) rather than that the query was wrong: the API
 * answers those 503 with Retry-After, never 500. Nothing was written by a
 * failed statement (the transaction rolls back), so retrying is safe.
 */
export function databaseUnavailable(error: unknown): Unavailable | undefined {
  if (!(error instanceof Error)) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (PG_UNAVAILABLE[code]) return PG_UNAVAILABLE[code];
    if (/^08/.test(code) || NETWORK_CODES.has(code)) return UNREACHABLE;
    if (code === 'SQLITE_FULL') {
      return { message: 'The disk is full: otpd cannot write to its database.', retryAfter: 5 };
    }
    if (code.startsWith('SQLITE_IOERR') || code === 'SQLITE_CANTOPEN') {
      return { message: 'The database file cannot be read or written (an I/O error).', retryAfter: 5 };
    }
    if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
      return { message: 'The database is too busy to answer.', retryAfter: 1 };
    }
    if (code.startsWith('SQLITE_READONLY')) {
      return { message: 'The database file is read-only.', retryAfter: 5 };
    }
  }
  // Connecting to a name with several addresses fails with all of them.
  if (error instanceof AggregateError && error.errors.some((e) => databaseUnavailable(e))) return UNREACHABLE;
  for (const [pattern, answer] of PG_POOL_MESSAGES) if (pattern.test(error.message)) return answer;
  return undefined;
}

/** A round trip to the database, for readiness checks. */
export async function ping(db: Db): Promise<void> {
  await sql`select 1`.execute(db);
}
