import { CODE_SPECS, type CodeType } from './codes.js';
import { invalid } from './errors.js';
import { checkOtpTemplate } from './message.js';

export const CHANNELS = ['sms', 'whatsapp', 'voice', 'rcs'] as const;
export type Channel = (typeof CHANNELS)[number];

export const ENVIRONMENTS = ['sandbox', 'live'] as const;
export type Environment = (typeof ENVIRONMENTS)[number];

/** The named limit scopes; each is the `scope` of its 429. */
export const LIMIT_SCOPES = [
  'phone_hour',
  'phone_day',
  'key_minute',
  'key_day',
  'ip_hour',
  'sms_phone_template_hour',
  'sms_key_day',
] as const;
export type LimitScope = (typeof LIMIT_SCOPES)[number];

export interface Limit {
  max: number;
  /** Window length in seconds. */
  window: number;
}
export type Limits = Record<LimitScope, Limit>;

export const DEFAULT_LIMITS: Limits = {
  phone_hour: { max: 5, window: 3600 },
  phone_day: { max: 10, window: 86400 },
  key_minute: { max: 100, window: 60 },
  key_day: { max: 10000, window: 86400 },
  ip_hour: { max: 10, window: 3600 },
  sms_phone_template_hour: { max: 3, window: 3600 },
  sms_key_day: { max: 1000, window: 86400 },
};

/** Bounds an app may set a limit within: a window of 1 s–7 days, max 1–1,000,000. */
export const LIMIT_BOUNDS = { maxMin: 1, maxMax: 1_000_000, windowMin: 1, windowMax: 604800 };

/** The channel of the n-th send (1-based) of an OTP when the request names none. */
export function channelForSend(policy: AppPolicy, n: number): Channel {
  const list = policy.send_channels;
  if (!list || list.length === 0) return policy.default_channel;
  return list[Math.min(n, list.length) - 1]!;
}

/** The OTP policy of an app; every field is also a column of `apps`. */
export interface AppPolicy {
  code_type: CodeType;
  code_length: number;
  /** Seconds a code lives, 60–86400. */
  expiry: number;
  /** Verification attempts per code, 1–10. */
  max_attempts: number;
  /** Seconds between sends of one code, 0–3600. */
  resend_cooldown: number;
  channels: Channel[];
  default_channel: Channel;
  /** ISO country used to read national numbers; null means E.164 only. */
  default_country: string | null;
  sender_id: string | null;
  /** Message template with {code}, {minutes} and {app}. */
  message: string;
  /** ISO countries codes may be sent to; null means all. */
  allowed_countries: string[] | null;
  /** Whether a send may carry its own `code`. */
  allow_custom_code: boolean;
  /** Overrides of DEFAULT_LIMITS, by scope. */
  limits: Partial<Limits>;
  /** Channels tried after a message's own, in order, when it fails or stays undelivered. */
  fallback_channels: Channel[];
  /** Seconds a sent message may stay undelivered before the next fallback channel; 0 = on failure only. */
  fallback_after: number;
  /** The channel of the n-th send of one OTP when the request names none (`["sms","sms","voice"]`); the last repeats. */
  send_channels: Channel[] | null;
}

export const DEFAULT_MESSAGE = 'Your {app} verification code is {code}. It expires in {minutes} minutes.';

export const DEFAULT_POLICY: AppPolicy = {
  code_type: 'numeric',
  code_length: 6,
  expiry: 300,
  max_attempts: 3,
  resend_cooldown: 60,
  channels: ['sms', 'whatsapp', 'voice', 'rcs'],
  default_channel: 'sms',
  default_country: null,
  sender_id: null,
  message: DEFAULT_MESSAGE,
  allowed_countries: null,
  allow_custom_code: false,
  limits: {},
  fallback_channels: [],
  fallback_after: 30,
  send_channels: null,
};

export const BOUNDS = {
  expiry: { min: 60, max: 86400 },
  max_attempts: { min: 1, max: 10 },
  resend_cooldown: { min: 0, max: 3600 },
  sender_id: { maxLength: 20 },
  message: { maxLength: 640 },
  fallback_after: { min: 0, max: 3600 },
  send_channels: { maxItems: 10 },
};

export function effectiveLimits(policy: AppPolicy): Limits {
  return { ...DEFAULT_LIMITS, ...policy.limits };
}

/**
 * Checks a whole policy: the bounds (again, for callers that bypass the HTTP
 * schemas, like the CLI) and the cross-field rules a schema cannot express.
 */
export function checkPolicy(policy: AppPolicy): void {
  const spec = CODE_SPECS[policy.code_type];
  if (policy.code_length < spec.min || policy.code_length > spec.max) {
    throw invalid(
      'code_length',
      `code_length must be ${spec.min}–${spec.max} for ${policy.code_type} codes.`,
    );
  }
  if (!policy.channels.includes(policy.default_channel)) {
    throw invalid('default_channel', "default_channel must be one of the app's channels.");
  }
  for (const field of ['fallback_channels', 'send_channels'] as const) {
    for (const channel of policy[field] ?? []) {
      if (!policy.channels.includes(channel)) {
        throw invalid(field, `${field} may name only the app's channels; ${channel} is not one.`);
      }
    }
  }
  if (new Set(policy.fallback_channels).size !== policy.fallback_channels.length) {
    throw invalid('fallback_channels', 'fallback_channels must not repeat a channel.');
  }
  for (const field of ['expiry', 'max_attempts', 'resend_cooldown', 'fallback_after'] as const) {
    const { min, max } = BOUNDS[field];
    const value = policy[field];
    if (!Number.isInteger(value) || value < min || value > max) {
      throw invalid(field, `${field} must be an integer ${min}–${max}.`);
    }
  }
  if (policy.sender_id !== null && policy.sender_id.length > BOUNDS.sender_id.maxLength) {
    throw invalid('sender_id', `sender_id must be at most ${BOUNDS.sender_id.maxLength} characters.`);
  }
  if (policy.message.length > BOUNDS.message.maxLength) {
    throw invalid('message', `message must be at most ${BOUNDS.message.maxLength} characters.`);
  }
  checkOtpTemplate(policy.message);
}
