import { Type } from '@sinclair/typebox';
import { commonSettings } from '../config.js';
import { ProviderError } from '../provider.js';
import type { ProviderType } from '../registry.js';

const Settings = Type.Object({ ...commonSettings }, { additionalProperties: false });

/** Placeholder while the twilio provider is written. */
export const twilioProvider: ProviderType<typeof Settings> = {
  schema: Settings,
  create(name) {
    return {
      name,
      type: 'twilio',
      channels: ['sms'],
      async send() {
        throw new ProviderError('not written yet', 'permanent');
      },
    };
  },
};
