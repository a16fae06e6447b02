import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GENERATED_FILE, generateOpenApiTypes } from '../scripts/generate.js';

const root = new URL('../../../', import.meta.url);
const pkg = new URL('../', import.meta.url);

describe('@otpd/client as shipped', () => {
  it("its generated types are otpd's current OpenAPI", async () => {
    const fresh = await generateOpenApiTypes();
    const committed = readFileSync(GENERATED_FILE, 'utf8');
    if (fresh !== committed) {
      expect.fail(
        "packages/client/src/generated/openapi.ts differs from otpd's OpenAPI: run npm run generate -w @otpd/client",
      );
    }
  });

  it('builds to ESM with .d.ts files and no runtime dependencies', () => {
    const manifest = JSON.parse(readFileSync(new URL('package.json', pkg), 'utf8'));
    expect(manifest.type).toBe('module');
    expect(manifest.dependencies ?? {}).toEqual({});
    for (const file of ['dist/index.js', 'dist/index.d.ts', 'dist/generated/openapi.d.ts']) {
      expect(existsSync(new URL(file, pkg)), `${file} (npm run build)`).toBe(true);
    }
    // Plain Node, through the package's exports, as an installed package resolves.
    const out = execFileSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "const m = await import('@otpd/client'); console.log(Object.keys(m).sort().join(','));",
      ],
      { cwd: root, encoding: 'utf8' },
    );
    expect(out.trim()).toBe(
      'Otpd,OtpdError,OtpdNetworkError,VERSION,WebhookVerificationError,verifyWebhook,webhooks',
    );
  });

  it('its VERSION is the package version', async () => {
    const { VERSION } = await import('../src/index.js');
    const manifest = JSON.parse(readFileSync(new URL('package.json', pkg), 'utf8'));
    expect(VERSION).toBe(manifest.version);
  });
});
