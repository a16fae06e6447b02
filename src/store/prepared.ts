import {
  type Compilable,
  type CompiledQuery,
  createQueryId,
  type Insertable,
  type InsertQueryBuilder,
  type InsertResult,
  type QueryResult,
} from 'kysely';
import type { Db } from './db.js';
import type { Database } from './schema.js';

/**
 * Hot queries, built and compiled once per dialect and then only run.
 *
 * Kysely builds a tree of frozen nodes for every query and compiles it to SQL
 * on every call. On the send and verify paths that was a fifth of the CPU:
 * more than SQLite took to run the statements. A prepared query is written
 * with the builder as any other (same types, same SQL on both dialects), but
 * its values are named slots; the first call on a dialect compiles it, and
 * every call after binds the slots and hands the same SQL text to the driver.
 * It runs through `db.executeQuery`, so transactions, the connection mutex
 * and SQLite's statement cache work as before (the text is the same string
 * every time, so even the cache lookup is cheaper).
 *
 * A slot must be bound as a parameter: a query whose builder inlines one into
 * the SQL (`sql.lit`, `then(value)` …) is refused when it is compiled.
 * Constants written into the builder stay as they were compiled.
 */

const MARK = '\u0000otpd-slot:';

/**
 * The SQL texts of prepared queries, each with a short name. On PostgreSQL the
 * pool's connections run these as named statements (db.ts), so the server
 * parses and plans each once per connection instead of on every call.
 */
const names = new Map<string, string>();

export function statementName(sqlText: string): string | undefined {
  return names.get(sqlText);
}

/** The slots of a prepared query: `p.phone` stands for the `phone` argument. */
export type Slots<A> = { readonly [K in keyof A]: A[K] };

interface Compiled {
  sql: string;
  query: CompiledQuery['query'];
  /** For each parameter, the argument it takes, or undefined for a constant. */
  slots: (string | undefined)[];
  constants: unknown[];
}

const slotProxy = new Proxy(
  {},
  {
    get: (_target, name) => {
      if (typeof name !== 'string') throw new Error('prepared: a slot name must be a string');
      return `${MARK}${name}`;
    },
  },
);

export interface Prepared<A, R> {
  /** Runs the query with these arguments; rows, affected rows and insert id as Kysely answers them. */
  run(db: Db, args: A): Promise<QueryResult<R>>;
  /** The first row, if any. */
  first(db: Db, args: A): Promise<R | undefined>;
  /** Every row. */
  all(db: Db, args: A): Promise<R[]>;
  /** How many rows an insert, update or delete touched. */
  affected(db: Db, args: A): Promise<number>;
  /** The SQL and parameters a call runs (for EXPLAIN in tests and when debugging a plan). */
  compiled(db: Db, args: A): { sql: string; parameters: unknown[] };
}

export function prepared<A extends object, R>(build: (db: Db, p: Slots<A>) => Compilable<R>): Prepared<A, R> {
  // Compiled once per dialect: the key is the adapter's class, which a
  // transaction shares with the Kysely instance it came from.
  const byDialect = new Map<unknown, Compiled>();
  const compiled = (db: Db): Compiled => {
    const key = db.getExecutor().adapter.constructor;
    let found = byDialect.get(key);
    if (!found) {
      const query = build(db, slotProxy as Slots<A>).compile();
      if (query.sql.includes(MARK)) {
        throw new Error(`prepared: a slot was inlined into the SQL, not bound: ${query.sql}`);
      }
      const slots = query.parameters.map((value) =>
        typeof value === 'string' && value.startsWith(MARK) ? value.slice(MARK.length) : undefined,
      );
      found = { sql: query.sql, query: query.query, slots, constants: [...query.parameters] };
      // Not one that answers `*`: its plan would break when a migration adds a column.
      if (!names.has(query.sql) && !/\bselect \*|returning \*|\.\*/.test(query.sql)) {
        names.set(query.sql, `otpd_${names.size + 1}`);
      }
      byDialect.set(key, found);
    }
    return found;
  };
  const queryId = createQueryId();
  const bind = (c: Compiled, args: A): unknown[] => {
    const values = args as Record<string, unknown>;
    const parameters = new Array<unknown>(c.slots.length);
    for (let i = 0; i < c.slots.length; i++) {
      const slot = c.slots[i];
      parameters[i] = slot === undefined ? c.constants[i] : (values[slot] ?? null);
    }
    return parameters;
  };
  const run = (db: Db, args: A): Promise<QueryResult<R>> => {
    const c = compiled(db);
    return db.executeQuery<R>({ sql: c.sql, parameters: bind(c, args), query: c.query, queryId });
  };
  return {
    run,
    first: async (db, args) => (await run(db, args)).rows[0],
    all: async (db, args) => (await run(db, args)).rows,
    affected: async (db, args) => Number((await run(db, args)).numAffectedRows ?? 0),
    compiled: (db, args) => {
      const c = compiled(db);
      return { sql: c.sql, parameters: bind(c, args) };
    },
  };
}

/**
 * A prepared insert of whole rows into `table`, compiled once per set of
 * columns given (a column whose value is undefined is left out, as Kysely
 * does, so that it takes its default). `finish` adds what follows the values
 * (`onConflict`, `returning`).
 */
export function preparedInsert<TB extends keyof Database>(
  table: TB,
  finish: (q: InsertQueryBuilder<Database, TB, InsertResult>) => Compilable<unknown> = (q) => q,
): (db: Db, row: Insertable<Database[TB]>) => Promise<number> {
  const byColumns = new Map<string, Prepared<Record<string, unknown>, unknown>>();
  return (db, row) => {
    const values = row as Record<string, unknown>;
    const columns = Object.keys(values).filter((c) => values[c] !== undefined);
    const key = columns.join(',');
    let query = byColumns.get(key);
    if (!query) {
      query = prepared<Record<string, unknown>, unknown>((d, p) =>
        finish(
          d
            .insertInto(table)
            .values(Object.fromEntries(columns.map((c) => [c, p[c]])) as Insertable<Database[TB]>),
        ),
      );
      byColumns.set(key, query);
    }
    return query.affected(db, values);
  };
}
