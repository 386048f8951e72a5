/**
 * UID sets as IMAP writes them ("1:3,7,9:10"): made from ascending UIDs for a command, and
 * read back from an ESEARCH answer.
 */
import assert from 'node:assert/strict';
import { expandSequenceSet, sequenceSetOf } from '../../agent/src/sync/remote-changes.js';

describe('UID sequence sets', () => {
  it('writes runs of consecutive UIDs as ranges', () => {
    assert.equal(sequenceSetOf([1, 2, 3, 7, 9, 10]), '1:3,7,9:10');
    assert.equal(sequenceSetOf([5]), '5');
    assert.equal(sequenceSetOf([4, 6, 8]), '4,6,8');
    assert.equal(sequenceSetOf([]), '');
  });

  it('reads back what it writes, and ranges either way round', () => {
    const uids = [1, 2, 3, 10, 11, 40, 4_294_967_294, 4_294_967_295];
    assert.deepEqual([...expandSequenceSet(sequenceSetOf(uids))], uids);
    assert.deepEqual([...expandSequenceSet('3:1,9')], [1, 2, 3, 9]);
    assert.deepEqual([...expandSequenceSet('')], []);
  });
});
