import type { Channel, Environment } from '../core/policy.js';
import type { RouteSpec } from './config.js';
import type { Provider } from './provider.js';

/** What routing looks at. */
export interface Addressee {
  environment: Environment;
  channel: Channel;
  /** E.164. */
  phone: string;
  country: string | null;
}

/**
 * Chooses providers: the first route whose channel, country and prefix match
 * gives the providers, tried in order. Sandbox messages never leave the
 * machine, and an install without routes sends everything to the inbox.
 */
export class Router {
  constructor(
    private readonly routes: readonly RouteSpec[],
    private readonly providers: ReadonlyMap<string, Provider>,
    private readonly inbox: Provider,
  ) {}

  /** True when messages may leave the machine (some route is configured). */
  get configured(): boolean {
    return this.routes.length > 0;
  }

  /** The providers for a message, in failover order; empty when no route matches. */
  providersFor(m: Addressee): Provider[] {
    if (m.environment === 'sandbox' || this.routes.length === 0) return [this.inbox];
    for (const route of this.routes) {
      if (route.channel && route.channel !== m.channel) continue;
      if (route.countries && !(m.country && route.countries.includes(m.country))) continue;
      if (
        route.prefixes &&
        !route.prefixes.some((p) => m.phone.startsWith(p.startsWith('+') ? p : `+${p}`))
      ) {
        continue;
      }
      return route.providers
        .map((name) => (name === 'inbox' ? this.inbox : this.providers.get(name)!))
        .filter((p) => p.channels.includes(m.channel));
    }
    return [];
  }
}
