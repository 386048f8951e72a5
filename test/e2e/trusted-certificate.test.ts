/**
 * `storesync cert install` makes the agent's HTTPS trusted by a real browser: Chromium, with
 * no certificate bypass, loads the pane once the CA is in the user's NSS database, and refuses
 * it (certificate authority invalid) without. Every trust store here lives under a temp HOME;
 * the machine's own stores are never touched (--no-system).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { launchChromium, type TestBrowser } from '../support/chromium.js';
import { ensureNssToolsInstalled, listUserNssDb } from '../support/nss-tools.js';
import { runCli, startAgentProcess, type AgentProcess } from '../support/storesync-process.js';

const NICKNAME = /StoreSync Local CA \([0-9A-F]{8}\)\s+C,,/;

describe('trusted certificate (storesync cert)', function () {
  let dir: string;
  let config: string;
  let agent: AgentProcess;
  const browsers: TestBrowser[] = [];

  /** A temp HOME: its own ~/.pki/nssdb, as a fresh user account would have none. */
  const newHome = async (name: string) => {
    const home = path.join(dir, name);
    await fs.mkdir(home);
    return home;
  };

  /** Opens the pane in a fresh Chromium profile under `home`, verifying certificates. */
  const openPane = async (home: string) => {
    const browser = await launchChromium({ env: { HOME: home } });
    browsers.push(browser);
    const page = await browser.context.newPage();
    return { page, response: page.goto(agent.url) };
  };

  before(async () => {
    await ensureNssToolsInstalled();
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'storesync-cert-'));
    config = path.join(dir, 'config.json');
    await fs.writeFile(
      config,
      JSON.stringify({
        dataDir: path.join(dir, 'data'),
        server: { host: '127.0.0.1', port: 0 },
        accounts: [],
      }),
    );
    agent = await startAgentProcess(['--config', config]);
  });

  after(async () => {
    for (const browser of browsers) await browser.close();
    await agent?.stop();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it('Chromium refuses the pane while the CA is not installed', async () => {
    const { response } = await openPane(await newHome('untrusted'));
    await assert.rejects(response, /ERR_CERT_AUTHORITY_INVALID/);
  });

  it('after `cert install`, Chromium loads the pane without a certificate bypass', async () => {
    const home = await newHome('trusted');
    const install = await runCli(['cert', 'install', '--config', config, '--no-system'], {
      HOME: home,
    });
    assert.equal(install.code, 0, install.stdout + install.stderr);
    assert.match(install.stdout, /✔ NSS user database .*added StoreSync Local CA/);
    assert.match(install.stdout, /system store .*skipped \(--no-system\)/);
    assert.match(await listUserNssDb(home), NICKNAME);

    const { page, response } = await openPane(home);
    const res = await response;
    assert.equal(res?.status(), 200);
    assert.equal(await page.title(), 'StoreSync');
    // The pane's script ran (it renders this), and its own requests pass verification too.
    await page.locator('[data-testid="connection-state"]').waitFor();
    const health = await page.evaluate(async () => (await fetch('/healthz')).json());
    assert.deepEqual((health as { ok: boolean }).ok, true);

    // A second install changes nothing and says so.
    const again = await runCli(['cert', 'install', '--config', config, '--no-system'], {
      HOME: home,
    });
    assert.equal(again.code, 0);
    assert.match(again.stdout, /already trusted/);
  });

  it('`cert uninstall` removes it, twice without error, and Chromium refuses again', async () => {
    const home = path.join(dir, 'trusted');
    const uninstall = await runCli(['cert', 'uninstall', '--config', config, '--no-system'], {
      HOME: home,
    });
    assert.equal(uninstall.code, 0, uninstall.stdout + uninstall.stderr);
    assert.match(uninstall.stdout, /✔ NSS user database .*removed StoreSync Local CA/);
    assert.doesNotMatch(await listUserNssDb(home), /StoreSync/);

    const again = await runCli(['cert', 'uninstall', '--config', config, '--no-system'], {
      HOME: home,
    });
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.match(again.stdout, /was not there/);

    const { response } = await openPane(home);
    await assert.rejects(response, /ERR_CERT_AUTHORITY_INVALID/);
  });

  it('without certutil, install fails and names the package to install', async () => {
    const empty = await newHome('no-tools');
    // An empty PATH: no certutil to be found (node itself is started by absolute path).
    const result = await runCli(['cert', 'install', '--config', config, '--no-system'], {
      HOME: empty,
      PATH: path.join(empty, 'bin'),
    });
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.match(result.stdout, /✖ NSS user database .*certutil is not installed.*libnss3-tools/);
  });

  it('`cert path` prints the CA file the agent serves from', async () => {
    const result = await runCli(['cert', 'path', '--config', config]);
    assert.equal(result.code, 0);
    assert.equal(result.stdout.trim(), path.join(dir, 'data', 'tls', 'ca.pem'));
  });
});
