import assert from 'node:assert/strict';
import { syncFlagsOf } from '../../agent/src/commands/sync-options.js';

describe('sync command MAPISIB flags', () => {
  it('runs all four directions when none is named', () => {
    assert.deepEqual(syncFlagsOf({}), {
      uploadHierarchy: true,
      downloadHierarchy: true,
      uploadContents: true,
      downloadContents: true,
      headersOnly: false,
      onDemand: false,
    });
  });

  it('runs only the directions named', () => {
    const flags = syncFlagsOf({ downloadContents: true, headersOnly: true });
    assert.deepEqual(
      [
        flags.uploadHierarchy,
        flags.downloadHierarchy,
        flags.uploadContents,
        flags.downloadContents,
        flags.headersOnly,
      ],
      [false, false, false, true, true],
    );
  });
});
