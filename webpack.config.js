// Bundles the task pane into dist/addin/, next to the office.js files Outlook needs.
import CopyWebpackPlugin from 'copy-webpack-plugin';
import HtmlWebpackPlugin from 'html-webpack-plugin';
import path from 'node:path';

const root = import.meta.dirname;

// What office.js loads at runtime in Outlook, relative to its own URL: the host file
// outlook-<platform>-<version>.js (outlookwebapp-15*.js via o15apptofilemappingtable.js on
// Office 2013-era hosts), <locale>/office_strings.js + <locale>/outlook_strings.js, and the
// telemetry scripts. Other hosts' files (word, excel, …) and *.debug.js stay out.
const OFFICE_FILES = [
  'office.js',
  'o15apptofilemappingtable.js',
  'outlook-*.js',
  'outlookwebapp-*.js',
  '*/office_strings.js',
  '*/outlook_strings.js',
  'telemetry/oteljs_agave.js',
  'ariatelemetry/aria-web-telemetry.js',
];

export default (_env, argv) => ({
  entry: { taskpane: './addin/src/taskpane.ts' },
  output: {
    path: path.join(root, 'dist/addin'),
    filename: '[name].[contenthash:8].js',
    clean: true,
  },
  // The CSP forbids eval: never an eval-based devtool.
  devtool: argv.mode === 'production' ? false : 'source-map',
  resolve: { extensions: ['.ts', '.js'], extensionAlias: { '.js': ['.ts', '.js'] } },
  module: {
    rules: [
      {
        test: /\.ts$/,
        loader: 'ts-loader',
        options: { configFile: path.join(root, 'addin/tsconfig.json'), transpileOnly: false },
      },
    ],
  },
  plugins: [
    new HtmlWebpackPlugin({ template: './addin/taskpane.html', filename: 'taskpane.html' }),
    new CopyWebpackPlugin({
      patterns: [
        { from: 'addin/assets', to: 'assets' },
        { from: 'addin/taskpane.css', to: 'taskpane.css' },
        {
          // One glob, so that every file keeps its path under office/.
          from: `{${OFFICE_FILES.join(',')}}`,
          context: path.join(root, 'node_modules/@microsoft/office-js/dist'),
          to: 'office/',
          globOptions: { ignore: ['**/*.debug.js', '**/*vsdoc*'] },
          // Microsoft ships them minified; copy them byte for byte.
          info: { minimized: true },
        },
      ],
    }),
  ],
  // Only our bundle has a budget; office.js's own files are what they are.
  performance: {
    maxAssetSize: 160_000,
    maxEntrypointSize: 160_000,
    assetFilter: (f) => /^taskpane\..*\.js$/.test(f),
  },
});
