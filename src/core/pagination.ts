/** A page of a list: the items and the cursor of the next page, if any. */
export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

/**
 * Builds a page from rows fetched with `limit + 1`: the extra row only says
 * that there is more. Cursors are the last id (ids are time-ordered).
 */
export function pageOf<R extends { id: string }, T>(rows: R[], limit: number, map: (row: R) => T): Page<T> {
  const more = rows.length > limit;
  const shown = more ? rows.slice(0, limit) : rows;
  return { items: shown.map(map), next_cursor: more ? shown[shown.length - 1]!.id : null };
}
