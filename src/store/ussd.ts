import type { Db } from './db.js';

export interface PendingCodeRow {
  id: string;
  account_id: string;
  app_id: string;
  app_name: string;
  code_ciphertext: string;
  expires_at: number;
}

/**
 * The pending, unexpired codes of live apps sent to `phone`, newest first.
 * Sandbox codes are left out: they are fixed and never leave the machine.
 */
export async function findPendingCodesForPhone(
  db: Db,
  phone: string,
  now: number,
  limit: number,
): Promise<PendingCodeRow[]> {
  const rows = await db
    .selectFrom('otps')
    .innerJoin('apps', 'apps.id', 'otps.app_id')
    .select([
      'otps.id',
      'otps.account_id',
      'otps.app_id',
      'apps.name as app_name',
      'otps.code_ciphertext',
      'otps.expires_at',
    ])
    .where('otps.phone', '=', phone)
    .where('otps.status', '=', 'pending')
    .where('otps.expires_at', '>', now)
    .where('otps.environment', '=', 'live')
    .where('otps.code_ciphertext', 'is not', null)
    .orderBy('otps.id', 'desc')
    .limit(limit)
    .execute();
  return rows.map((row) => ({ ...row, code_ciphertext: row.code_ciphertext! }));
}
