// Bundles the task pane into dist/addin/, next to the office.js files Outlook needs.
import CopyWebpackPlugin from 'copy-webpack-plugin';
import HtmlWebpackPlugin from 'html-webpack-plugin';
import path from 'node:path';

const root = import.meta.dirname;
const officeDist = path.join(root, 'node_modules/@microsoft/office-js/dist');

export default (_env, argv) => ({
  entry: { taskpane: './addin/src/taskpane.ts' },
  output: {
    path: path.join(root, 'dist/addin'),
    filename: '[name].[contenthash:8].js',
    clean: true,
  },
  // The CSP forbids eval: no eval-based source maps, even in development.
  devtool: argv.mode === 'development' ? 'source-map' : false,
  resolve: { extensions: ['.ts', '.js'], extensionAlias: { '.js': ['.ts', '.js'] } },
  module: {
    rules: [
      {
        test: /\.ts$/,
        loader: 'ts-loader',
        options: { configFile: path.join(root, 'addin/tsconfig.json') },
      },
    ],
  },
  plugins: [
    new HtmlWebpackPlugin({
      template: './addin/taskpane.html',
      filename: 'taskpane.html',
      inject: 'body',
    }),
    new CopyWebpackPlugin({
      patterns: [
        { from: 'addin/assets', to: 'assets' },
        { from: 'addin/taskpane.css', to: 'taskpane.css' },
        // office.js and what it loads for Outlook: its host scripts and string tables.
        {
          context: officeDist,
          from: '{office.js,o15apptofilemappingtable.js,es6-promise.js,outlook-*.js,*/office_strings.js,*/outlook_strings.js}',
          to: 'office/',
          globOptions: { ignore: ['**/*.debug.js'] },
        },
      ],
    }),
  ],
  performance: { hints: false },
});
