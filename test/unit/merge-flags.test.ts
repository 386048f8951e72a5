import assert from 'node:assert/strict';
import { mergeFlags } from '../../agent/src/sync/merge-flags.js';

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
});
