/**
 * What the compatibility layers share: an answer (HTTP status and body in a
 * reference API's own shape) and the renaming of otpd's field names into a
 * reference's vocabulary. Pure: no Fastify, no storage.
 */

/** One HTTP answer in a reference's shape. */
export interface CompatAnswer {
  status: number;
  body: unknown;
}

/** otpd field name → the reference's name for it. */
export type FieldNames = Readonly<Record<string, string>>;

/** A field path (`phone`, `expiry.amount`) in the reference's names; unknown names stay as they are. */
export function renameField(field: string, names: FieldNames): string {
  const [head = field, ...rest] = field.split('.');
  return [names[head] ?? head, ...rest].join('.');
}

/** A record with its top-level keys in the reference's names, in their original order. */
export function renameKeys(record: object, names: FieldNames): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).map(([key, value]) => [names[key] ?? key, value]));
}
