/**
 * `storesync demo`: everything needed to see StoreSync work, on this machine alone. Starts a
 * private Dovecot IMAP server with generated mail (created on first start, kept after), writes
 * a config for it, and runs the agent against it. Nothing here is simulated: the pane shows a
 * real sync of a real IMAP server.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { ImapFlow } from 'imapflow';
import { loadConfigFile } from '../config/load.js';
import { appendSampleMail } from '../demo/append-sample-mail.js';
import { ensureDovecotInstalled, startPrivateDovecot } from '../demo/private-dovecot.js';
import { generateMailbox } from '../demo/sample-mail.js';
import { runAgentUntilStopped } from './start-command.js';

const DEMO_FOLDERS = [
  'INBOX',
  'Archive',
  'Archive/2025',
  'Projects/Apollo',
  'Projects/Zephyr',
  'Sent',
];

export interface DemoOptions {
  dataDir: string;
  port: number;
  messages: number;
}

/**
 * Where the demo server keeps its config and mail. As root, Dovecot's own users must be able
 * to reach it, which a home directory (mode 0700) does not allow; then it lives under
 * /var/tmp, named after the data dir so the same demo finds the same mail again.
 */
function demoDovecotDir(dataDir: string): string {
  if (process.getuid?.() !== 0 || traversableByOthers(dataDir))
    return path.join(dataDir, 'dovecot');
  const tag = createHash('sha256').update(dataDir).digest('hex').slice(0, 10);
  return path.join('/var/tmp', `storesync-demo-${tag}`, 'dovecot');
}

function traversableByOthers(dir: string): boolean {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    if ((statSync(d).mode & 0o001) === 0) return false;
    if (path.dirname(d) === d) return true;
  }
}

export async function runDemo(options: DemoOptions): Promise<number> {
  const say = (line: string) => process.stdout.write(line + '\n');
  await ensureDovecotInstalled(say);
  await fs.mkdir(options.dataDir, { recursive: true, mode: 0o700 });

  const passwordFile = path.join(options.dataDir, 'imap-password');
  if (!existsSync(passwordFile)) {
    await fs.writeFile(passwordFile, randomBytes(12).toString('hex') + '\n', { mode: 0o600 });
  }
  const password = (await fs.readFile(passwordFile, 'utf8')).trim();
  const dovecotDir = demoDovecotDir(options.dataDir);
  const dovecot = await startPrivateDovecot({ dir: dovecotDir, user: 'demo', password });
  try {
    const populated = path.join(dovecotDir, '.populated');
    if (!existsSync(populated)) {
      say(`Generating ${options.messages} messages on the demo IMAP server…`);
      const client = new ImapFlow({
        host: dovecot.host,
        port: dovecot.port,
        secure: false,
        doSTARTTLS: false,
        auth: { user: dovecot.user, pass: password },
        logger: false,
      });
      await client.connect();
      await appendSampleMail(
        client,
        generateMailbox({ count: options.messages, folders: DEMO_FOLDERS, seed: 2026 }),
      );
      await client.logout();
      await fs.writeFile(populated, new Date().toISOString() + '\n');
    }
    const configFile = path.join(options.dataDir, 'config.json');
    await fs.writeFile(
      configFile,
      JSON.stringify(
        {
          dataDir: 'agent',
          server: { host: '127.0.0.1', port: options.port },
          accounts: [
            {
              id: 'demo',
              imap: {
                host: dovecot.host,
                port: dovecot.port,
                tls: 'none',
                user: dovecot.user,
                password: { file: 'imap-password' },
              },
              maildir: 'Maildir',
            },
          ],
        },
        null,
        2,
      ) + '\n',
    );
    say(
      `Demo IMAP server on ${dovecot.host}:${dovecot.port} (user ${dovecot.user}); config in ${configFile}`,
    );
    return await runAgentUntilStopped(loadConfigFile(configFile), {
      configFile,
      onStarted: (agent) => {
        // Already paired: the link's one-time secret is traded for a token the pane keeps.
        const link = `${agent.url}taskpane.html#pair=${agent.pairing.issue('link').secret}`;
        say(
          `Open ${link} in a browser to watch it sync (the link works once, for 10 minutes;
` +
            `  \`storesync open --config ${configFile}\` makes a new one). Ctrl-C stops the agent and the demo server.`,
        );
      },
    });
  } finally {
    await dovecot.stop();
  }
}
