import { Type } from '@sinclair/typebox';
import { commonSettings } from '../config.js';
import { ProviderError } from '../provider.js';
import type { ProviderType } from '../registry.js';

const Settings = Type.Object({ ...commonSettings }, { additionalProperties: false });

/** Placeholder while the http provider is written. */
export const httpProvider: ProviderType<typeof Settings> = {
  schema: Settings,
  create(name) {
    return {
      name,
      type: 'http',
      channels: ['sms'],
      async send() {
        throw new ProviderError('not written yet', 'permanent');
      },
    };
  },
};
