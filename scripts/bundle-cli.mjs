/**
 * Bundles the compiled agent (dist/agent, from tsc) into dist/cli: an entry that loads the
 * command line, and one chunk per command with shared chunks between them, so that starting
 * `storesync` reads a handful of files instead of resolving and compiling about a thousand
 * modules one by one. A one-shot `storesync sync` starts ~0.2 s sooner (BENCHMARKS.md).
 *
 * Left to node_modules: better-sqlite3 (a native addon) and office-addin-manifest (it reads
 * files that sit next to its code), and the packages in LAZY_PACKAGES below, which are loaded
 * from there the first time they are used. Identifiers are kept, so stack traces in logs name
 * the functions; the source maps (`node --enable-source-maps`) lead back to the TypeScript.
 */
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

const outdir = 'dist/cli';

/**
 * Packages that a bundled library imports when it loads but uses only on paths a sync rarely
 * or never takes. Bundled, their code would be read and compiled by every `storesync` run (a
 * third of the sync path's code: charset tables alone are 0.5 MB); instead the library gets a
 * stand-in module whose exports load the real package, resolved from the library's own file in
 * node_modules, on first use. Each stand-in exports exactly the names listed (esbuild stops the
 * build if the library imports another one); every export, and the default (the package's
 * `module.exports`), is a function-shaped proxy that can be read, called or constructed.
 */
const LAZY_PACKAGES = [
  {
    // imapflow: charset conversion and MIME decoding (envelopes, decoded downloads), SOCKS
    // proxies, and its default pino logger (StoreSync hands it a logger of its own or none);
    // of Node's own modules TLS (loaded when a connection starts TLS, not for a plaintext
    // loopback server) and DNS (proxies only). Not zlib: imapflow looks at it every login.
    importer: /[\\/]node_modules[\\/]imapflow[\\/]/,
    packages: {
      'node:tls': [],
      'node:dns': [],
      'iconv-lite': [],
      libmime: [],
      'encoding-japanese': [],
      socks: ['SocksClient'],
      '@zone-eu/mailsplit': ['Headers'],
      '@zone-eu/mailsplit/lib/flowed-decoder.js': [],
      libqp: [],
      libbase64: [],
      pino: [],
    },
  },
  {
    // commander: child processes run only "executable" subcommands, which StoreSync has none of.
    importer: /[\\/]node_modules[\\/]commander[\\/]/,
    packages: { 'node:child_process': ['spawn'] },
  },
  {
    // pino-roll: date-fns serves its `frequency` and `dateFormat` options, which logging.ts
    // does not use.
    importer: /[\\/]node_modules[\\/]pino-roll[\\/]/,
    packages: { 'date-fns': ['format', 'addDays', 'addHours', 'parse', 'isValid'] },
  },
];

/** The stand-in module for one lazily loaded package (ES module source). */
function standIn(pkg, importer, names) {
  // The chunk's own `require` (the banner below) resolves the library's file from dist/cli;
  // the package is then resolved from there, as the library itself would (it may have a
  // nested copy of its own).
  let from = path.relative(outdir, importer).split(path.sep).join('/');
  if (!from.startsWith('.')) from = `./${from}`;
  return `
let real;
const load = () => (real ??= require('node:module').createRequire(require.resolve(${JSON.stringify(from)}))(${JSON.stringify(pkg)}));
const lazy = (get) => new Proxy(function () {}, {
  get: (_, name) => get()[name],
  has: (_, name) => name in get(),
  apply: (_, self, args) => Reflect.apply(get(), self, args),
  construct: (_, args) => Reflect.construct(get(), args),
});
export default lazy(load);
${names.map((name) => `export const ${name} = lazy(() => load().${name});`).join('\n')}
`;
}

const lazyPackages = {
  name: 'lazy-packages',
  setup(b) {
    b.onResolve({ filter: /^(node:)?[@a-z]/ }, (args) => {
      const rule = LAZY_PACKAGES.find(
        (r) => r.importer.test(args.importer) && Object.hasOwn(r.packages, args.path),
      );
      if (!rule) return undefined;
      return {
        // Relative, so the bundle names no directory of the machine that built it.
        path: `${args.path} for ${path.relative(process.cwd(), args.importer)}`,
        namespace: 'lazy-package',
        pluginData: { pkg: args.path, importer: args.importer, names: rule.packages[args.path] },
      };
    });
    b.onLoad({ filter: /.*/, namespace: 'lazy-package' }, ({ pluginData }) => ({
      contents: standIn(pluginData.pkg, pluginData.importer, pluginData.names),
      loader: 'js',
      resolveDir: process.cwd(),
    }));
  },
};

/**
 * imapflow sorts the folders it lists with `localeCompare`, whose first call builds an ICU
 * collator (~15 ms, a tenth of a no-change `storesync sync`); StoreSync orders folders itself,
 * by code unit (list-folders.ts), so the bundle compares by code unit there too. The build
 * stops if imapflow's file no longer has exactly the calls this replaces.
 */
const LIST_SORT_FILE = /[\\/]node_modules[\\/]imapflow[\\/]dist[\\/]esm[\\/]commands[\\/]list\.js$/;
const LIST_SORT_CALLS = 3;
const codeUnitSort = {
  name: 'code-unit-sort',
  setup(b) {
    b.onLoad({ filter: LIST_SORT_FILE }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      let calls = 0;
      const patched = source.replace(/([\w.]+)\.localeCompare\(/g, (_, left) => {
        calls++;
        return `__codeUnitCompare(${left}, `;
      });
      if (calls !== LIST_SORT_CALLS) {
        return {
          errors: [
            {
              text: `expected ${LIST_SORT_CALLS} localeCompare calls in ${args.path}, found ${calls}`,
            },
          ],
        };
      }
      return {
        contents: `const __codeUnitCompare = (a, b) => (a < b ? -1 : a > b ? 1 : 0);\n${patched}`,
        loader: 'js',
      };
    });
  },
};

rmSync(outdir, { recursive: true, force: true }); // no chunk of an earlier build lingers

/** What both bundles share: Node 20, the stand-ins, identifiers kept for stack traces. */
const common = {
  entryPoints: ['dist/agent/cli.js'],
  bundle: true,
  platform: 'node',
  target: 'node20',
  external: ['better-sqlite3', 'office-addin-manifest'],
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: 'linked',
  logLevel: 'warning',
};

const result = await build({
  ...common,
  metafile: Boolean(process.env.BUNDLE_META),
  outdir,
  splitting: true,
  format: 'esm',
  plugins: [lazyPackages, codeUnitSort],
  // Bundled CommonJS packages call require() for Node's own modules (and optional ones).
  banner: {
    js: "import { createRequire as __storesyncRequire } from 'node:module'; const require = __storesyncRequire(import.meta.url);",
  },
});
if (process.env.BUNDLE_META)
  (await import('node:fs')).writeFileSync(process.env.BUNDLE_META, JSON.stringify(result.metafile));

/**
 * `storesync sync` alone, as one CommonJS file that bin/storesync.js runs with a V8 code
 * cache (agent/src/code-cache.ts). The CLI asked for `sync` registers no other command
 * module (cli.ts), so those are left out: each is a stand-in that says so if ever loaded.
 */
const COMMAND_MODULE = /^\.\/commands\/[\w-]+-commands?\.js$/;
const syncOnly = {
  name: 'sync-only',
  setup(b) {
    b.onResolve({ filter: COMMAND_MODULE }, (args) =>
      args.importer.endsWith(`${path.sep}cli.js`) && args.path !== './commands/sync-command.js'
        ? { path: args.path, namespace: 'not-in-sync-bundle' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'not-in-sync-bundle' }, ({ path: name }) => ({
      contents: `throw new Error(${JSON.stringify(`${name} is not part of the sync bundle`)});`,
      loader: 'js',
    }));
  },
};
await build({
  ...common,
  outfile: `${outdir}/sync.cjs`,
  format: 'cjs',
  // import() in a script run by vm.Script needs a loader callback: require() instead.
  supported: { 'dynamic-import': false },
  plugins: [lazyPackages, codeUnitSort, syncOnly],
  // The ES module code asks for its own location: in this bundle, the bundle's.
  define: { 'import.meta.url': '__storesyncUrl', 'import.meta.dirname': '__dirname' },
  banner: { js: "const __storesyncUrl = require('node:url').pathToFileURL(__filename).href;" },
  // The stand-ins resolve their library's file at run time, from dist/cli, on purpose.
  logOverride: { 'require-resolve-not-external': 'silent' },
});

/**
 * What bin/storesync.js tries first for `storesync sync`: the quick way in beside a running
 * agent (agent/src/commands/sync-fast-path.ts), in two CommonJS files. The first, a few kB,
 * looks for the agent's record: every one-shot run reads it, so it holds nothing else. The
 * second (commander, the protocol, the report) is read only where a record was found; it
 * holds neither the config's schemas nor the engine.
 */
const SECOND_STEP = './sync-through-recorded-agent.js';
const secondStepApart = {
  name: 'second-step-apart',
  setup(b) {
    b.onResolve({ filter: /^\.\/sync-through-recorded-agent\.js$/ }, () => ({
      path: SECOND_STEP.replace(/\.js$/, '.cjs'),
      external: true,
    }));
  },
};
const quickWayIn = {
  ...common,
  format: 'cjs',
  supported: { 'dynamic-import': false },
  define: { 'import.meta.url': '__storesyncUrl', 'import.meta.dirname': '__dirname' },
  banner: { js: "const __storesyncUrl = require('node:url').pathToFileURL(__filename).href;" },
  logOverride: { 'require-resolve-not-external': 'silent' },
};
await build({
  ...quickWayIn,
  entryPoints: ['dist/agent/commands/sync-fast-path.js'],
  outfile: `${outdir}/sync-fast-path.cjs`,
  plugins: [secondStepApart],
});
await build({
  ...quickWayIn,
  entryPoints: [`dist/agent/commands/${SECOND_STEP.slice(2)}`],
  outfile: `${outdir}/${SECOND_STEP.slice(2).replace(/\.js$/, '.cjs')}`,
  plugins: [lazyPackages],
});

// What runs that bundle (bin/storesync.js), CommonJS too: Node starts a CommonJS program
// faster than an ES module one.
await build({
  ...common,
  entryPoints: ['dist/agent/code-cache.js'],
  outfile: `${outdir}/code-cache.cjs`,
  format: 'cjs',
});
