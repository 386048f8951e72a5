/** docs/errors.md is the engine's error table, word for word, with a stable anchor per code. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ErrorCodeSchema } from '../../agent/src/protocol/index.js';
import { ERROR_TABLE } from '../../agent/src/sync/errors.js';
import {
  ERRORS_DOC,
  errorAnchor,
  errorCatalogue,
  renderErrorCatalogue,
} from '../../scripts/error-catalogue/render.js';
import { ERROR_CAUSES } from '../../scripts/error-catalogue/causes.js';

describe('error catalogue (docs/errors.md)', () => {
  it('is what `npm run docs:errors` writes from the current error table', async () => {
    const onDisk = readFileSync(ERRORS_DOC, 'utf8');
    assert.ok(
      onDisk === (await errorCatalogue()),
      'docs/errors.md differs from the error table: run `npm run docs:errors` and commit it',
    );
  });

  it('has one entry per code, anchored by the code in lower case, with its cause and fix', () => {
    const text = renderErrorCatalogue();
    for (const code of ErrorCodeSchema.options) {
      const start = text.indexOf(`<a id="${errorAnchor(code)}"></a>`);
      assert.ok(start >= 0, `no anchor for ${code}`);
      assert.equal(errorAnchor(code), code.toLowerCase());
      const next = text.indexOf('<a id=', start + 1);
      const entry = text.slice(start, next < 0 ? undefined : next);
      assert.match(entry, new RegExp(`^## ${code}$`, 'm'));
      assert.ok(entry.includes(ERROR_TABLE[code].hint), `${code}: the fix is not the table's hint`);
      assert.ok(entry.includes(ERROR_CAUSES[code]), `${code}: the cause is missing`);
    }
  });

  it('detects drift: a changed hint no longer matches the file', async () => {
    const entry = ERROR_TABLE.DISK_FULL;
    const hint = entry.hint;
    try {
      entry.hint = 'Buy a bigger disk.';
      assert.notEqual(readFileSync(ERRORS_DOC, 'utf8'), await errorCatalogue());
    } finally {
      entry.hint = hint;
    }
  });
});
