/**
 * `storesync fetch` while the agent runs for the same dataDir: one process per Maildir and
 * state, so the agent fetches the body (its sessions are logged in already) and the command
 * prints what it printed on its own: the file's path, or the JSON with it. The way in is the
 * one `sync --once` takes (agent-sync.ts), authenticated with the CLI's token.
 */
import {
  parseFrame,
  PROTOCOL_VERSION,
  type ServerMessage,
  ServerMessageSchema,
} from '../protocol/index.js';
import { ERROR_TABLE } from '../sync/errors.js';
import type { AgentEndpoint } from './agent-client.js';
import { openAgentChannel } from './agent-sync.js';

/** How long the agent may take to greet and accept the token. */
const HANDSHAKE_TIMEOUT_MS = 10_000;

export async function fetchThroughAgent(
  agent: AgentEndpoint,
  opts: { account: string; folder: string; uid: number; json?: boolean },
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
): Promise<number> {
  const authId = `cli-${process.pid}-auth`;
  const fetchId = `cli-${process.pid}-fetch`;
  return new Promise<number>((resolve) => {
    let settled = false;
    const finish = (code: number, text: string, to: NodeJS.WritableStream) => {
      if (settled) return;
      settled = true;
      clearTimeout(handshake);
      channel.close();
      to.write(text);
      resolve(code);
    };
    const fail = (message: string) => finish(1, `storesync: ${message}\n`, err);
    const handshake = setTimeout(
      () => fail('the agent did not accept the command within 10 s'),
      HANDSHAKE_TIMEOUT_MS,
    );
    const onMessage = (text: string) => {
      const parsed = parseFrame(ServerMessageSchema, text);
      if (!parsed.ok) {
        fail(`the agent sent a message this version cannot read (${parsed.error})`);
        return;
      }
      const message: ServerMessage = parsed.value;
      if (message.type === 'hello') {
        if (message.protocolVersion !== PROTOCOL_VERSION) {
          fail(
            `the running agent (${message.agentVersion}) speaks protocol ${message.protocolVersion}, this command ${PROTOCOL_VERSION}: restart the agent after an update`,
          );
          return;
        }
        channel.send({ type: 'auth', requestId: authId, token: agent.token });
        return;
      }
      if (message.type !== 'reply') return;
      if (message.requestId === authId) {
        if (!message.ok) {
          fail(
            `the agent refused this command's token (${message.error?.message ?? 'no reason given'}); restart the agent`,
          );
          return;
        }
        // The fetch itself may take as long as the message does.
        clearTimeout(handshake);
        channel.send({
          type: 'fetchBody',
          requestId: fetchId,
          accountId: opts.account,
          folder: opts.folder,
          uid: opts.uid,
        });
        return;
      }
      if (message.requestId !== fetchId) return;
      const body = message.body;
      if (message.ok && body?.path) {
        const result = { path: body.path, fetched: body.fetched, size: body.size };
        finish(0, (opts.json ? JSON.stringify(result) : result.path) + '\n', out);
        return;
      }
      const code = message.error?.code ?? 'INTERNAL';
      const why = message.error?.message ?? 'the agent did not fetch the message';
      const known = (ERROR_TABLE as Record<string, { hint: string } | undefined>)[code];
      fail(known ? `${code}: ${why}\n  ${known.hint}` : why);
    };
    const channel = openAgentChannel(agent, {
      message: onMessage,
      error: (e, where) => fail(`could not reach the agent at ${where}: ${e.message}`),
      close: () => fail('the connection to the agent closed before the message was fetched'),
    });
  });
}
