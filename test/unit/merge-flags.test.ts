import assert from 'node:assert/strict';
import fc from 'fast-check';
import { maildirLetters } from '../../agent/src/sync/maildir/flags.js';
import { mergeChangesNothing, mergeFlags } from '../../agent/src/sync/merge-flags.js';

const both = { applyToLocal: true, applyToRemote: true };

describe('three-way flag merge', () => {
  it('does nothing when neither side changed', () => {
    const r = mergeFlags({ base: ['\\Seen'], localLetters: 'S', remote: ['\\Seen'], ...both });
    assert.deepEqual(r, { localLetters: 'S', addRemote: [], removeRemote: [], base: ['\\Seen'] });
  });

  it('brings a server change to the file', () => {
    const r = mergeFlags({ base: ['\\Seen'], localLetters: 'S', remote: ['\\Flagged'], ...both });
    assert.equal(r.localLetters, 'F');
    assert.deepEqual([r.addRemote, r.removeRemote], [[], []]);
    assert.deepEqual(r.base, ['\\Flagged']);
  });

  it('brings a local change to the server', () => {
    const r = mergeFlags({ base: ['\\Seen'], localLetters: 'FS', remote: ['\\Seen'], ...both });
    assert.equal(r.localLetters, 'FS');
    assert.deepEqual(r.addRemote, ['\\Flagged']);
    assert.deepEqual(r.base, ['\\Flagged', '\\Seen']);
  });

  it('merges different flags changed on each side (neither side loses its change)', () => {
    // Here flagged, there marked unread: a whole-message "newest wins" would drop one of them.
    const r = mergeFlags({ base: ['\\Seen'], localLetters: 'FS', remote: [], ...both });
    assert.equal(r.localLetters, 'F');
    assert.deepEqual(r.addRemote, ['\\Flagged']);
    assert.deepEqual(r.removeRemote, []);
    assert.deepEqual(r.base, ['\\Flagged']);
  });

  it('tells "added here" from "removed there"', () => {
    // Local has F, server lacks it: if the base had F the server removed it, else we added it.
    assert.equal(
      mergeFlags({ base: ['\\Flagged'], localLetters: 'F', remote: [], ...both }).localLetters,
      '',
    );
    assert.deepEqual(mergeFlags({ base: [], localLetters: 'F', remote: [], ...both }).addRemote, [
      '\\Flagged',
    ]);
  });

  it('agrees silently when both sides made the same change', () => {
    const r = mergeFlags({ base: [], localLetters: 'S', remote: ['\\Seen'], ...both });
    assert.deepEqual([r.localLetters, r.addRemote, r.base], ['S', [], ['\\Seen']]);
  });

  it('keeps keywords from the server and letters it does not know in the file name', () => {
    const r = mergeFlags({
      base: ['$Label1'],
      localLetters: 'Sa',
      remote: ['$Label2', '\\Seen', '\\Flagged'],
      ...both,
    });
    assert.equal(r.localLetters, 'FSa');
    assert.deepEqual(r.base, ['$Label2', '\\Flagged', '\\Seen']);
  });

  it('leaves a change pending when its direction is not part of this sync', () => {
    const downloadOnly = mergeFlags({
      base: [],
      localLetters: 'F',
      remote: ['\\Seen'],
      applyToLocal: true,
      applyToRemote: false,
    });
    assert.equal(downloadOnly.localLetters, 'FS');
    assert.deepEqual(downloadOnly.addRemote, []);
    assert.deepEqual(downloadOnly.base, ['\\Seen']); // F stays a pending local change
    const uploadOnly = mergeFlags({
      base: [],
      localLetters: 'F',
      remote: ['\\Seen'],
      applyToLocal: false,
      applyToRemote: true,
    });
    assert.equal(uploadOnly.localLetters, 'F');
    assert.deepEqual(uploadOnly.addRemote, ['\\Flagged']);
    assert.deepEqual(uploadOnly.base, ['\\Flagged']); // \Seen stays a pending server change
  });

  it('is skipped only where it would change nothing (the full pass shortcut)', () => {
    const flag = fc.constantFrom(
      '\\Seen',
      '\\Answered',
      '\\Flagged',
      '\\Draft',
      '\\Deleted',
      '$Forwarded',
      '\\SEEN',
      '\\Recent',
      '$label1',
      'Junk',
    );
    const flags = fc.uniqueArray(flag, { maxLength: 5 });
    // Often the letters some flag set maps to (case-folded), else any letters.
    const letters = fc.oneof(
      flags.map((f) => maildirLetters(f)),
      fc
        .uniqueArray(fc.constantFrom('D', 'F', 'P', 'R', 'S', 'T', 'a', 'x'), { maxLength: 4 })
        .map((l) => l.sort().join('')),
    );
    let skipped = 0;
    fc.assert(
      fc.property(flags, letters, fc.option(flags, { nil: undefined }), (base, local, remote) => {
        if (!mergeChangesNothing(base, local, remote)) return;
        skipped += 1;
        const merged = mergeFlags({ base, localLetters: local, remote: remote ?? base, ...both });
        assert.equal(merged.localLetters, local);
        assert.deepEqual(merged.addRemote, []);
        assert.deepEqual(merged.removeRemote, []);
        assert.deepEqual(merged.base, [...new Set(base)].sort());
      }),
      { numRuns: 5000 },
    );
    assert.ok(skipped > 50, `only ${skipped} cases took the shortcut`);
  });
});
