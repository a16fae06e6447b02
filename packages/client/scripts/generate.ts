/**
 * Writes src/generated/openapi.ts: the TypeScript types of otpd's `/v1` API,
 * generated from the OpenAPI document that the server itself builds from its
 * route schemas. The client's request and response types come from this
 * file, so they cannot drift from the server (test/generated.test.ts fails
 * when the committed file differs from a fresh generation).
 *
 *   npm run generate -w @otpd/client
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import openapiTS, { astToString, type OpenAPI3 } from 'openapi-typescript';
import pino from 'pino';
import { systemClock } from '../../../src/core/clock.js';
import { deriveKeyring } from '../../../src/core/crypto.js';
import { buildServer } from '../../../src/http/server.js';
import { openStore } from '../../../src/store/db.js';

export const GENERATED_FILE = fileURLToPath(new URL('../src/generated/openapi.ts', import.meta.url));

const HEADER = `/**
 * otpd's /v1 API as TypeScript types, generated from the server's OpenAPI
 * document by packages/client/scripts/generate.ts (openapi-typescript).
 * Do not edit: run \`npm run generate -w @otpd/client\`.
 */
`;

/** The OpenAPI document of an otpd server built in-process on a throwaway SQLite store. */
export async function otpdOpenApi(): Promise<OpenAPI3> {
  const store = await openStore({ url: ':memory:' });
  const server = await buildServer(
    {
      store,
      clock: systemClock,
      // Nothing is encrypted: the server is only asked for its schemas.
      keyring: deriveKeyring('openapi-generation-only-0123456789abcdef'),
      log: pino({ level: 'silent' }),
      wakeDelivery: () => {},
    },
    {},
  );
  try {
    await server.ready();
    return server.swagger() as OpenAPI3;
  } finally {
    await server.close();
    await store.close();
  }
}

/** The generated file's text: the `/v1` paths (what an API key can call) and the shared components. */
export async function generateOpenApiTypes(): Promise<string> {
  const spec = await otpdOpenApi();
  const paths = Object.fromEntries(
    Object.entries(spec.paths ?? {}).filter(([path]) => path.startsWith('/v1/')),
  );
  const ast = await openapiTS({ ...spec, paths }, { alphabetize: false });
  return HEADER + astToString(ast);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(GENERATED_FILE, await generateOpenApiTypes());
  console.log(`wrote ${GENERATED_FILE}`);
}
