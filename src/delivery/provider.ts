import type { Channel, Environment } from '../core/policy.js';

/** One message as a provider sees it: the text is already rendered. */
export interface OutboundMessage {
  id: string;
  app_id: string;
  otp_id: string | null;
  environment: Environment;
  channel: Channel;
  /** E.164. */
  phone: string;
  sender_id: string | null;
  text: string;
}

export interface ProviderResult {
  /** The provider's own id, for receipts; null when it has none. */
  provider_message_id: string | null;
  /** `delivered` when the provider is the final destination (the inbox). */
  status: 'sent' | 'delivered';
}

/**
 * A delivery provider (inbox today; SMPP, Twilio, WhatsApp and HTTP gateways
 * later). `send` resolves once the provider has accepted the message and
 * throws a ProviderError otherwise.
 */
export interface Provider {
  readonly name: string;
  readonly channels: readonly Channel[];
  send(message: OutboundMessage): Promise<ProviderResult>;
}

export class ProviderError extends Error {
  /** Whether trying again later may succeed (throttling, timeouts, link down). */
  readonly retryable: boolean;
  constructor(message: string, retryable: boolean) {
    super(message);
    this.name = 'ProviderError';
    this.retryable = retryable;
  }
}
