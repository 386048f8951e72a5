/**
 * `npm run docs:errors`: writes docs/errors.md from the engine's error table. Run it after
 * changing a code, a hint or a cause; test/unit/error-catalogue.test.ts fails until then.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { ERRORS_DOC, errorCatalogue } from './error-catalogue/render.js';

writeFileSync(ERRORS_DOC, await errorCatalogue());
process.stdout.write(`wrote ${path.relative(process.cwd(), ERRORS_DOC)}\n`);
