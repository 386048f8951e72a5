import assert from 'node:assert/strict';
import { ByteSlabs } from '../../agent/src/sync/byte-slabs.js';

/** `length` bytes that tell where they came from: a counter from `seed`. */
function bytes(seed: number, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = (seed * 31 + i * 7) & 0xff;
  return out;
}

describe('byte slabs (bodies on their way to disk)', () => {
  it('gives back exactly what was appended, one piece per slab it lies in', () => {
    const slabs = new ByteSlabs(1000);
    const body = slabs.gather();
    const parts = [bytes(1, 300), bytes(2, 0), bytes(3, 1500), bytes(4, 1)];
    for (const part of parts) body.append(part);
    assert.equal(body.size, 1801);
    assert.deepEqual(Buffer.concat(body.pieces()), Buffer.concat(parts));
    // 1,801 bytes from the start of 1,000-byte slabs: a whole slab and 801 bytes of the next.
    assert.deepEqual(
      body.pieces().map((p) => p.length),
      [1000, 801],
    );
  });

  it('never reuses a slab while a body in it is not released', () => {
    const slabs = new ByteSlabs(1000, 8);
    const kept = slabs.gather();
    kept.append(bytes(7, 100));
    const keptBytes = Buffer.from(Buffer.concat(kept.pieces()));
    // Many bodies after it, each written and released at once: their slabs come back, the
    // one `kept` lies in must not.
    for (let i = 0; i < 200; i++) {
      const body = slabs.gather();
      body.append(bytes(i, 333));
      assert.deepEqual(Buffer.concat(body.pieces()), bytes(i, 333));
      body.release();
    }
    assert.deepEqual(Buffer.concat(kept.pieces()), keptBytes);
    assert.ok(slabs.idleSlabs() > 0, 'released slabs are kept for use again');
  });

  it('reuses a slab once every body in it is released, and not before', () => {
    const slabs = new ByteSlabs(1000, 8);
    const a = slabs.gather();
    a.append(bytes(1, 400));
    const b = slabs.gather();
    b.append(bytes(2, 400));
    const c = slabs.gather();
    c.append(bytes(3, 400)); // fills the first slab, goes on in a second
    assert.equal(slabs.idleSlabs(), 0);
    a.release();
    a.release(); // twice counts once: b still holds the slab
    assert.equal(slabs.idleSlabs(), 0);
    const bBytes = Buffer.from(Buffer.concat(b.pieces()));
    for (let i = 0; i < 20; i++) {
      const d = slabs.gather();
      d.append(bytes(10 + i, 500));
      d.release();
    }
    assert.deepEqual(Buffer.concat(b.pieces()), bBytes, 'b was not overwritten');
    b.release();
    c.release();
    assert.ok(slabs.idleSlabs() >= 1);
  });

  it('keeps no more emptied slabs than asked for', () => {
    const slabs = new ByteSlabs(100, 2);
    const bodies = Array.from({ length: 10 }, (_, i) => {
      const body = slabs.gather();
      body.append(bytes(i, 100));
      return body;
    });
    for (const body of bodies) body.release();
    assert.equal(slabs.idleSlabs(), 2);
  });

  it('refuses bytes for a body already released', () => {
    const body = new ByteSlabs(100).gather();
    body.append(bytes(1, 10));
    body.release();
    assert.throws(() => body.append(bytes(2, 10)), /released/);
  });
});
