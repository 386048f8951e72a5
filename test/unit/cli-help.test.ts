/**
 * Every command's --help ends with examples a user can copy: at least two lines that run that
 * very command.
 */
import assert from 'node:assert/strict';
import type { Command } from 'commander';
import { buildProgram } from '../../agent/src/cli.js';

const COMMANDS = [
  'sync',
  'fetch',
  'start',
  'demo',
  'cert',
  'cert install',
  'cert uninstall',
  'cert path',
  'doctor',
];

function find(program: Command, path: string): Command {
  let command = program;
  for (const name of path.split(' ')) {
    const next = command.commands.find((c) => c.name() === name);
    assert.ok(next, `no command "${path}"`);
    command = next;
  }
  return command;
}

function helpOf(command: Command): string {
  let text = '';
  command.configureOutput({ writeOut: (s) => (text += s) });
  command.outputHelp();
  return text;
}

describe('--help examples', () => {
  for (const path of COMMANDS) {
    it(`storesync ${path} --help shows examples`, async () => {
      const help = helpOf(find(await buildProgram(() => undefined), path));
      // The program built for that one command shows the same help.
      const alone = helpOf(find(await buildProgram(() => undefined, path.split(' ')[0]), path));
      assert.equal(alone, help);
      const examples = help.split(/\nExamples:\n/)[1];
      assert.ok(examples, `no "Examples:" section in:\n${help}`);
      const runs = examples
        .split('\n')
        .filter((line) => line.includes(`storesync ${path.split(' ')[0]}`));
      assert.ok(runs.length >= 2, `fewer than two example lines in:\n${examples}`);
    });
  }
});
