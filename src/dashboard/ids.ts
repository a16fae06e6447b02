import { newId } from '../core/ids.js';

/** Prefixes of the dashboard's records: users, sessions, links, recovery codes, mail and live-mode requests. */
export type DashboardIdPrefix = 'usr' | 'ses' | 'utk' | 'rcv' | 'mal' | 'lmr';

export const newDashboardId = (prefix: DashboardIdPrefix, now: number): string => newId(prefix, now);
