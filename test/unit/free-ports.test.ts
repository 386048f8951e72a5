/**
 * Ports for the private Dovecot's listeners: picked together, never one port twice (Dovecot
 * refuses to start with two listeners on one port), and free again once picked.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { freePort, freePorts } from '../../agent/src/demo/private-dovecot.js';

const listenOn = (port: number) =>
  new Promise<net.Server>((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });

describe('free ports for the private Dovecot', () => {
  it('picks the number asked for, all different, each free to listen on afterwards', async () => {
    const ports = await freePorts(24);
    assert.equal(ports.length, 24);
    assert.equal(new Set(ports).size, 24, `a port picked twice: ${ports.join(', ')}`);
    const servers = await Promise.all(ports.map(listenOn));
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  });

  it('picks one port on its own', async () => {
    const port = await freePort();
    assert.ok(Number.isInteger(port) && port > 0 && port < 65536);
    const server = await listenOn(port);
    await new Promise((r) => server.close(r));
  });
});
