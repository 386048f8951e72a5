/**
 * Every way StoreSync starts Node gives it the same memory settings: the first line of
 * bin/storesync.js (run as `storesync`), `npm start` / `npm run demo`, the service files.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { NODE_ENVIRONMENT, NODE_FLAGS, shebangLine } from '../../agent/src/launch-settings.js';
import { PACKAGE_ROOT } from '../../agent/src/package-info.js';
import { agentArguments, currentServiceSpec } from '../../agent/src/service/service-spec.js';

const BIN = path.join(PACKAGE_ROOT, 'bin', 'storesync.js');

describe('how Node is started', () => {
  it('bin/storesync.js starts with the settings, and runs as a program', () => {
    assert.equal(readFileSync(BIN, 'utf8').split('\n')[0], shebangLine());
    // The kernel and env(1) read that line: it must work as written (env -S).
    const run = spawnSync(BIN, ['--version'], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^\d+\.\d+\.\d+\n$/);
  });

  it('npm start and npm run demo pass the same Node options', () => {
    const scripts = (
      JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as {
        scripts: Record<string, string>;
      }
    ).scripts;
    for (const name of ['start', 'demo']) {
      assert.ok(
        scripts[name]!.startsWith(`node ${NODE_FLAGS.join(' ')} bin/storesync.js `),
        `${name}: ${scripts[name]}`,
      );
    }
  });

  it('the service runs Node with them too', () => {
    const spec = currentServiceSpec('/etc/storesync.json', { PATH: '/usr/bin' });
    assert.deepEqual(agentArguments(spec).slice(0, NODE_FLAGS.length + 1), [
      ...NODE_FLAGS,
      spec.script,
    ]);
    for (const [name, value] of Object.entries(NODE_ENVIRONMENT))
      assert.equal(spec.environment[name], value);
    assert.equal(spec.environment.PATH, '/usr/bin');
  });
});
