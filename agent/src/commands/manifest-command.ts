/**
 * `storesync manifest`: writes the add-in manifest for another host, port or add-in id (a
 * second agent, a port already taken), checked with our rules and read back with
 * office-addin-manifest's reader, which is what Office's own tooling parses it with.
 */
import { type Command, CommanderError } from 'commander';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { checkManifestXml } from '../manifest/manifest-rules.js';
import { localManifestFacts } from '../manifest/local-facts.js';
import { originOf, renderManifest } from '../manifest/render-manifest.js';
import { PACKAGE_ROOT } from '../package-info.js';

interface ManifestOptions {
  host: string;
  port: string;
  id?: string;
  out: string;
}

export function registerManifestCommand(program: Command, setExit: (code: number) => void): void {
  program
    .command('manifest')
    .description('Write the Outlook add-in manifest for another host, port or add-in id')
    .option('--host <host>', 'host the agent is reached at', 'localhost')
    .option('--port <port>', 'HTTPS port of the agent (server.port)', '4643')
    .option('--id <guid>', 'add-in id (a GUID); give each agent its own')
    .requiredOption('--out <file>', 'where to write the manifest')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  storesync manifest --port 5443 --out ~/storesync-manifest.xml\n' +
        '  storesync manifest --id "$(cat /proc/sys/kernel/random/uuid)" --port 4700 --out manifest-2.xml',
    )
    .action(async (opts: ManifestOptions) => {
      if (!/^\d{1,5}$/.test(opts.port))
        throw new CommanderError(
          2,
          'storesync.usage',
          `--port: "${opts.port}" is not a port number (1-65535)`,
        );
      const port = Number(opts.port);
      const target = { host: opts.host, port, ...(opts.id ? { id: opts.id } : {}) };
      let xml: string;
      try {
        xml = renderManifest(readFileSync(path.join(PACKAGE_ROOT, 'manifest.xml'), 'utf8'), target);
      } catch (err) {
        throw new CommanderError(2, 'storesync.usage', (err as Error).message);
      }
      const problems = checkManifestXml(xml, localManifestFacts());
      if (problems.length > 0) {
        process.stderr.write(
          `storesync: the manifest would not be valid:\n  ${problems.join('\n  ')}\n`,
        );
        setExit(1);
        return;
      }
      const out = path.resolve(opts.out);
      writeFileSync(out, xml);
      // Office's own reader must see what we meant: the id and the pane's origin.
      // A CommonJS package: Node gives its exports as `default`, some loaders as names too.
      const loaded = await import('office-addin-manifest');
      const OfficeAddinManifest =
        (loaded.default as typeof loaded.default | undefined)?.OfficeAddinManifest ??
        loaded.OfficeAddinManifest;
      const info = await OfficeAddinManifest.readManifestFile(out);
      const origin = originOf(target);
      if ((opts.id && info.id !== opts.id.toLowerCase()) || !info.appDomains?.includes(origin)) {
        process.stderr.write(`storesync: ${out} does not read back as written\n`);
        setExit(1);
        return;
      }
      process.stdout.write(
        `Wrote ${out}: add-in ${info.id}, pane at ${origin}/taskpane.html\n` +
          'Sideload it in Outlook: Get Add-ins > My add-ins > Add a custom add-in > Add from file.\n',
      );
    });
}
