/** The dashboard API's envelope, its errors and the CSRF header, in one place. */

export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    readonly extras: {
      field?: string;
      retry_after?: number;
      attempts_remaining?: number;
      scope?: string;
    } = {},
  ) {
    super(message);
  }
}

export function cookie(name: string): string | undefined {
  for (const part of document.cookie.split('; ')) {
    const eq = part.indexOf('=');
    if (part.slice(0, eq) === name) return decodeURIComponent(part.slice(eq + 1));
  }
  return undefined;
}

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

/** Listeners told when an answer says the session is gone or owes its second factor. */
const sessionListeners = new Set<(code: string) => void>();
export const onSessionTrouble = (fn: (code: string) => void) => {
  sessionListeners.add(fn);
  return () => sessionListeners.delete(fn);
};

export async function request<T>(
  method: Method,
  url: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<T> {
  const h: Record<string, string> = { accept: 'application/json', ...headers };
  if (body !== undefined) h['content-type'] = 'application/json';
  if (method !== 'GET') h['x-csrf-token'] = cookie('otpd_csrf') ?? '';
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers: h,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
    });
  } catch {
    throw new ApiError('NETWORK', 'otpd is not answering; check your connection.', 0);
  }
  const json = (await res.json().catch(() => null)) as
    | { success: true; data: T }
    | { success: false; error: { code: string; message: string } & ApiError['extras'] }
    | null;
  if (!json) throw new ApiError('INTERNAL_ERROR', `otpd answered ${res.status} without a body.`, res.status);
  if (!json.success) {
    const { code, message, ...extras } = json.error;
    if (code === 'SESSION_REQUIRED' || code === 'SECOND_FACTOR_REQUIRED') {
      for (const fn of sessionListeners) fn(code);
    }
    throw new ApiError(code, message, res.status, extras);
  }
  return json.data;
}

/** The dashboard API (session cookie). */
export const api = {
  get: <T>(path: string) => request<T>('GET', `/dashboard/api${path}`),
  post: <T>(path: string, body?: unknown) => request<T>('POST', `/dashboard/api${path}`, body),
  patch: <T>(path: string, body: unknown) => request<T>('PATCH', `/dashboard/api${path}`, body),
  del: <T>(path: string) => request<T>('DELETE', `/dashboard/api${path}`),
};

export interface User {
  id: string;
  email: string;
  role: 'tenant' | 'operator';
  account_id: string | null;
  email_verified: boolean;
  two_factor: boolean;
  created_at: string;
}

export interface SessionState {
  user: User | null;
  second_factor_required: boolean;
  csrf_token: string;
}

export interface Limit {
  max: number;
  window: number;
}

export interface App {
  id: string;
  account_id: string;
  name: string;
  environment: 'sandbox' | 'live';
  code_type: 'numeric' | 'alphanumeric' | 'alphabetic';
  code_length: number;
  expiry: number;
  max_attempts: number;
  resend_cooldown: number;
  channels: string[];
  default_channel: string;
  default_country: string | null;
  sender_id: string | null;
  message: string;
  allowed_countries: string[] | null;
  allow_custom_code: boolean;
  limits: Record<string, Limit>;
  fallback_channels: string[];
  fallback_after: number;
  send_channels: string[] | null;
  created_at: string;
  updated_at: string;
}

export interface ApiKey {
  id: string;
  app_id: string;
  environment: string;
  display: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
  secret?: string;
}

export interface Otp {
  otp_id: string;
  app_id: string;
  phone: string;
  country: string | null;
  channel: string;
  status: string;
  reference: string | null;
  metadata: Record<string, unknown> | null;
  attempts: number;
  max_attempts: number;
  attempts_remaining: number;
  send_count: number;
  expires_at: string;
  resend_available_at: string | null;
  created_at: string;
  verified_at: string | null;
}

export interface Delivery {
  message_id: string;
  channel: string;
  status: string;
  provider: string | null;
  error: string | null;
  tries: number;
  created_at: string;
  sent_at: string | null;
  delivered_at: string | null;
  failed_at: string | null;
}

export interface OtpExplained extends Otp {
  delivery_status: string | null;
  deliveries: Delivery[];
  attempts_log: { id: string; outcome: string; created_at: string }[];
  timeline: { type: string; detail: Record<string, unknown>; created_at: string }[];
}

export interface LiveRequest {
  id: string;
  account_id: string;
  use_case: string;
  expected_volume: string;
  status: 'pending' | 'approved' | 'rejected';
  review_note: string | null;
  created_at: string;
  reviewed_at: string | null;
}

export interface Account {
  id: string;
  name: string;
  email: string | null;
  balance: number;
  currency: string;
  created_at: string;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface InboxMessage {
  id: string;
  message_id: string;
  app_id: string;
  environment: string;
  phone: string;
  channel: string;
  sender_id: string | null;
  text: string;
  created_at: string;
}
