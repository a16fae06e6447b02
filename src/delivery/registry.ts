import type { Static, TObject } from '@sinclair/typebox';
import type { Context } from '../context.js';
import { checkToken, signToken } from '../core/crypto.js';
import type { Channel } from '../core/policy.js';
import type { DeliveryConfig, ProviderSettings } from './config.js';
import { InboxProvider } from './inbox.js';
import type {
  CallbackRequest,
  CallbackResponse,
  OutboundMessage,
  Provider,
  ProviderDeps,
  ProviderResult,
} from './provider.js';
import { ProviderError } from './provider.js';
import { httpProvider } from './providers/http.js';
import { smppProvider } from './providers/smpp.js';
import { twilioProvider } from './providers/twilio.js';
import { whatsappProvider } from './providers/whatsapp.js';
import { recordReceipt } from './receipts.js';
import { Router } from './router.js';
import { Throttle } from './throttle.js';

/** A kind of provider: its settings schema and how to build one. */
export interface ProviderType<S extends TObject = TObject> {
  /** Settings, `type` and the common ones (`commonSettings` in config.ts) included. */
  schema: S;
  /** Whether the provider enforces `throughput` itself (SMPP, per bind). */
  throttlesItself?: boolean;
  create(name: string, settings: Static<S>, deps: ProviderDeps): Provider;
}

// biome-ignore lint/suspicious/noExplicitAny: each type has its own settings
export const PROVIDER_TYPES: Record<string, ProviderType<any>> = {
  smpp: smppProvider,
  twilio: twilioProvider,
  whatsapp: whatsappProvider,
  http: httpProvider,
};

export const PROVIDER_SCHEMAS: Record<string, TObject> = Object.fromEntries(
  Object.entries(PROVIDER_TYPES).map(([type, t]) => [type, t.schema]),
);

/**
 * What the operator configured around a provider: its channels, its
 * messages per second, and a last-resort timeout (the provider's own
 * timeouts come first and know better whether the request left).
 */
class Configured implements Provider {
  readonly name: string;
  readonly type: string;
  readonly channels: readonly Channel[];
  private readonly throttle: Throttle | undefined;
  private readonly timeoutMs: number;

  constructor(
    private readonly inner: Provider,
    private readonly settings: ProviderSettings,
    throttlesItself: boolean,
  ) {
    this.name = inner.name;
    this.type = inner.type;
    this.channels = settings.channels
      ? inner.channels.filter((c) => settings.channels!.includes(c))
      : inner.channels;
    this.throttle = settings.throughput && !throttlesItself ? new Throttle(settings.throughput) : undefined;
    this.timeoutMs = (settings.timeout ?? 10) * 1000 + 2000;
  }

  get receipts(): boolean {
    return this.settings.resend_after_silence ?? this.inner.receipts ?? false;
  }

  get idempotent(): boolean {
    return this.inner.idempotent ?? false;
  }

  get concurrency(): number | undefined {
    return this.inner.concurrency;
  }

  async ready(): Promise<void> {
    await this.throttle?.take();
    await this.inner.ready?.();
  }

  async send(message: OutboundMessage): Promise<ProviderResult> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new ProviderError(`${this.name} did not answer in time.`, 'unknown', 'TIMEOUT')),
        this.timeoutMs,
      );
    });
    try {
      return await Promise.race([this.inner.send(message), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  start(): Promise<void> {
    return this.inner.start?.() ?? Promise.resolve();
  }

  close(): Promise<void> {
    return this.inner.close?.() ?? Promise.resolve();
  }

  get handleCallback(): ((request: CallbackRequest) => Promise<CallbackResponse>) | undefined {
    return this.inner.handleCallback?.bind(this.inner);
  }

  health(): { ok: boolean; detail?: string } {
    return this.inner.health?.() ?? { ok: true };
  }
}

/** The providers and routes of one otpd process. */
export interface Delivery {
  config: DeliveryConfig;
  /** By name, the inbox included. */
  providers: Map<string, Provider>;
  router: Router;
  start(): Promise<void>;
  close(): Promise<void>;
}

/** Builds every configured provider (not started) and the router. */
export function buildDelivery(ctx: Context, config: DeliveryConfig): Delivery {
  const inbox = new InboxProvider(ctx);
  const providers = new Map<string, Provider>([['inbox', inbox]]);
  for (const [name, settings] of Object.entries(config.providers)) {
    const type = PROVIDER_TYPES[settings.type]!;
    const deps: ProviderDeps = {
      receipts: async (receipt) => {
        await recordReceipt(ctx, receipt);
      },
      log: ctx.log.child({ provider: name }),
      callbackUrl: config.public_url ? `${config.public_url}/callbacks/${name}` : null,
      now: () => ctx.clock.now(),
      sign: (value) => signToken(ctx.keyring, `callback:${name}`, value),
      verify: (value, token) => checkToken(ctx.keyring, `callback:${name}`, value, token),
    };
    providers.set(
      name,
      new Configured(type.create(name, settings, deps), settings, type.throttlesItself ?? false),
    );
  }
  const router = new Router(config.routes, providers, inbox);
  return {
    config,
    providers,
    router,
    async start() {
      await Promise.all([...providers.values()].map((p) => p.start?.()));
    },
    async close() {
      await Promise.all([...providers.values()].map((p) => p.close?.()));
    },
  };
}
