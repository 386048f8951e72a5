#!/usr/bin/env node
/**
 * The ceiling: every message body fetched once by the thinnest possible IMAP client (LOGIN,
 * LIST, EXAMINE, UID FETCH 1:* BODY.PEEK[]), counting literal bytes and nothing else, with
 * folders spread over a few connections. Plain JavaScript without dependencies, so Node starts
 * it without a compiler and its cost is the protocol's alone.
 *
 *   BENCH_IMAP_PASSWORD=… node bench/raw-fetch.mjs --port 143 --user me [--connections 2]
 *       [--items "BODY.PEEK[]"]     ("(UID FLAGS)" gives the floor of a flag-scan resync)
 *
 * Prints one JSON line: {"messages":N,"literalBytes":B,"folders":F}.
 */
import { Buffer } from 'node:buffer';
import net from 'node:net';

const args = { host: '127.0.0.1', port: 143, user: '', connections: 2, items: 'BODY.PEEK[]' };
for (let i = 2; i < process.argv.length; i += 2) {
  const key = process.argv[i]?.replace(/^--/, '');
  const value = process.argv[i + 1];
  if (!key || value === undefined || !(key in args)) {
    process.stderr.write(`raw-fetch: unknown or incomplete option ${process.argv[i]}\n`);
    process.exit(2);
  }
  args[key] = typeof args[key] === 'number' ? Number(value) : value;
}
const password = process.env.BENCH_IMAP_PASSWORD ?? '';
const quote = (s) => `"${s.replace(/["\\]/g, '\\$&')}"`;

/** One connection: sends a command, collects untagged lines and literal sizes until its tag. */
class Connection {
  constructor(socket) {
    this.socket = socket;
    this.pending = Buffer.alloc(0);
    this.literalLeft = 0;
    this.line = '';
    this.waiter = null;
    this.tag = 0;
    this.lines = [];
    this.literals = 0;
    this.literalBytes = 0;
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('error', (err) => this.waiter?.reject(err));
    socket.on('close', () => this.waiter?.reject(new Error('connection closed')));
  }

  onData(chunk) {
    let buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = Buffer.alloc(0);
    let at = 0;
    while (at < buf.length) {
      if (this.literalLeft > 0) {
        const n = Math.min(this.literalLeft, buf.length - at);
        this.literalLeft -= n;
        this.literalBytes += n;
        at += n;
        continue;
      }
      const nl = buf.indexOf(10, at);
      if (nl < 0) {
        this.pending = Buffer.from(buf.subarray(at));
        break;
      }
      const text = buf.toString('latin1', at, nl + 1);
      at = nl + 1;
      const literal = /\{(\d+)\}\r\n$/.exec(text);
      if (literal) {
        this.line += text;
        this.literalLeft = Number(literal[1]);
        this.literals += 1;
        continue;
      }
      this.onLine(this.line + text.replace(/\r\n$/, ''));
      this.line = '';
    }
  }

  onLine(line) {
    const w = this.waiter;
    if (!w) return;
    if (line.startsWith(`${w.tag} `)) {
      this.waiter = null;
      if (/^\S+ OK/.test(line)) w.resolve(this.lines.splice(0));
      else w.reject(new Error(`${w.command.split(' ')[0]} failed: ${line}`));
    } else if (line.startsWith('*') && !line.includes(' FETCH ')) this.lines.push(line);
    else if (line.startsWith('*')) w.fetches += 1;
  }

  greeting() {
    return new Promise((resolve, reject) => {
      this.waiter = { tag: '*', command: 'greeting', resolve, reject, fetches: 0 };
    });
  }

  async run(command) {
    const tag = `a${++this.tag}`;
    const waiter = { tag, command, resolve: null, reject: null, fetches: 0 };
    const lines = await new Promise((resolve, reject) => {
      Object.assign(waiter, { resolve, reject });
      this.waiter = waiter;
      this.socket.write(`${tag} ${command}\r\n`);
    });
    return { lines, fetches: waiter.fetches };
  }
}

async function open() {
  const socket = net.connect(args.port, args.host);
  socket.setNoDelay(true);
  const c = new Connection(socket);
  const greeting = c.greeting();
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  await greeting; // "* OK …": resolves like a tagged OK whose tag is "*"
  await c.run(`LOGIN ${quote(args.user)} ${quote(password)}`);
  return c;
}

function folderName(listLine) {
  const m = /^\* LIST \(([^)]*)\) (?:"[^"]*"|NIL) (.*)$/i.exec(listLine);
  if (!m || /\\Noselect|\\NonExistent/i.test(m[1])) return null;
  const name = m[2];
  return name.startsWith('"') ? name.slice(1, -1).replace(/\\(.)/g, '$1') : name;
}

const first = await open();
const folders = (await first.run('LIST "" "*"')).lines.map(folderName).filter(Boolean);
const connections = [first];
for (let i = 1; i < Math.min(args.connections, folders.length); i++) connections.push(await open());
let messages = 0;
let next = 0;
await Promise.all(
  connections.map(async (c) => {
    while (next < folders.length) {
      const folder = folders[next++];
      await c.run(`EXAMINE ${quote(folder)}`);
      const { fetches } = await c.run(`UID FETCH 1:* ${args.items}`);
      messages += fetches; // after the await: `messages += await …` would lose updates
    }
    await c.run('LOGOUT').catch(() => undefined);
    c.socket.destroy();
  }),
);
const literalBytes = connections.reduce((sum, c) => sum + c.literalBytes, 0);
process.stdout.write(JSON.stringify({ messages, literalBytes, folders: folders.length }) + '\n');
