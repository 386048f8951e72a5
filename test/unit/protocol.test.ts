import assert from 'node:assert/strict';
import {
  ClientMessageSchema,
  emptyStats,
  FULL_SYNC,
  parseFrame,
  PROTOCOL_VERSION,
  type ServerMessage,
  ServerMessageSchema,
} from '../../agent/src/protocol/index.js';

const samples: ServerMessage[] = [
  { type: 'hello', protocolVersion: PROTOCOL_VERSION, agentVersion: '0.1.0', instanceId: 'i1' },
  {
    type: 'snapshot',
    accounts: [
      {
        id: 'work',
        host: 'imap.example.com',
        folderCount: 3,
        messageCount: 200,
        lastSyncAt: null,
        lastResult: null,
        folders: [{ path: 'INBOX', messageCount: 200, partialCount: 0, lastSyncAt: null }],
      },
    ],
    running: [],
    history: [],
    lastEventId: 0,
  },
  { type: 'agentStopping', reason: 'the agent is stopping' },
  {
    type: 'syncStarted',
    syncId: 's1',
    accountIds: ['work'],
    flags: FULL_SYNC,
    trigger: 'user',
    at: 1,
  },
  {
    type: 'progress',
    syncId: 's1',
    accountId: 'work',
    folder: 'Archive/2024',
    step: 'downloading',
    text: 'Downloading messages 1 of 2 in Archive/2024',
    index: 1,
    indexMax: 2,
    bytes: 1234,
    at: 2,
  },
  {
    type: 'error',
    syncId: 's1',
    accountId: 'work',
    code: 'AUTH_FAILED',
    message: 'Login refused',
    hint: 'Check the password',
    folder: null,
    retryable: false,
    at: 3,
  },
  {
    type: 'done',
    syncId: 's1',
    result: 'ok',
    stats: { ...emptyStats(), downloaded: 2 },
    startedAt: 1,
    finishedAt: 4,
  },
  { type: 'reply', requestId: 'r1', ok: true, syncId: 's1' },
  { type: 'protocolError', code: 'BAD_FRAME', message: 'frame is not valid JSON' },
];

describe('protocol', () => {
  for (const message of samples) {
    it(`round-trips a ${message.type} message through JSON`, () => {
      const parsed = parseFrame(ServerMessageSchema, JSON.stringify(message));
      assert.deepEqual(parsed, { ok: true, value: message });
    });
  }

  it('round-trips the sync command with every MAPISIB flag', () => {
    const command = {
      type: 'sync',
      requestId: 'r2',
      flags: { ...FULL_SYNC, uploadContents: false, headersOnly: true },
    };
    assert.deepEqual(parseFrame(ClientMessageSchema, JSON.stringify(command)), {
      ok: true,
      value: command,
    });
  });

  it('rejects a sync command missing a flag, naming it', () => {
    const flags: Record<string, boolean> = { ...FULL_SYNC };
    delete flags.headersOnly;
    const result = parseFrame(
      ClientMessageSchema,
      JSON.stringify({ type: 'sync', requestId: 'r', flags }),
    );
    assert.equal(result.ok, false);
    assert.match(!result.ok ? result.error : '', /flags\.headersOnly/);
  });

  it('rejects unknown types, extra fields and non-JSON with a one-line reason', () => {
    for (const text of [
      'nope',
      '{"type":"format-disk","requestId":"r"}',
      JSON.stringify({ type: 'cancel', requestId: 'r', syncId: 's', extra: 1 }),
      '[]',
      'null',
    ]) {
      const result = parseFrame(ClientMessageSchema, text);
      assert.equal(result.ok, false, text);
      assert.ok(!result.ok && result.error.length > 0 && !result.error.includes('\n'), text);
    }
  });

  it('takes an error event with a severity or without one (older agents), no other value', () => {
    const error = samples.find((m) => m.type === 'error')!;
    const notice = { ...error, code: 'UIDVALIDITY_CHANGED', severity: 'info' };
    assert.deepEqual(parseFrame(ServerMessageSchema, JSON.stringify(notice)), {
      ok: true,
      value: notice,
    });
    const bad = { ...error, severity: 'fatal' };
    assert.equal(parseFrame(ServerMessageSchema, JSON.stringify(bad)).ok, false);
  });

  it('rejects an event with a wrong field type', () => {
    const bad = { ...samples[3], index: -1 };
    assert.equal(parseFrame(ServerMessageSchema, JSON.stringify(bad)).ok, false);
  });
});

describe('error classification', () => {
  it('gives each failure its stable code and a hint', async () => {
    const { classifyError } = await import('../../agent/src/sync/errors.js');
    const cases: Array<[object, string]> = [
      [{ authenticationFailed: true, message: 'x' }, 'AUTH_FAILED'],
      [{ code: 'ENOSPC', message: 'no space' }, 'DISK_FULL'],
      [{ code: 'EDQUOT', message: 'disk quota exceeded' }, 'DISK_FULL'],
      [{ code: 'ECONNREFUSED', message: 'refused' }, 'CONNECTION_FAILED'],
      [{ code: 'ECONNRESET', message: 'reset' }, 'CONNECTION_LOST'],
      [
        {
          responseStatus: 'NO',
          serverResponseCode: 'OVERQUOTA',
          responseText: 'Quota exceeded (mailbox for user is full)',
        },
        'QUOTA_EXCEEDED',
      ],
      [
        {
          responseStatus: 'NO',
          serverResponseCode: 'NONEXISTENT',
          responseText: "Mailbox doesn't exist: X",
        },
        'FOLDER_GONE',
      ],
      // Dovecot, to a command on a folder another client deleted while it was open.
      [
        {
          responseStatus: 'NO',
          responseText: 'Mailbox was deleted under us (0.001 + 0.000 secs).',
        },
        'FOLDER_GONE',
      ],
      [{ responseStatus: 'NO', responseText: 'Permission denied' }, 'SERVER_NO'],
      [{ responseStatus: 'BAD', responseText: 'Error in IMAP command' }, 'SERVER_BAD'],
      [{ code: 'ERR_TLS_CERT_ALTNAME_INVALID', message: 'certificate mismatch' }, 'TLS_ERROR'],
      // imapflow's own: the server went silent; a BYE instead of a greeting.
      [{ code: 'ETIMEOUT', message: 'Socket timeout' }, 'CONNECTION_LOST'],
      [
        {
          code: 'ClosedAfterConnectText',
          message: 'Unexpected close',
          reason: 'too many connections',
        },
        'CONNECTION_FAILED',
      ],
    ];
    for (const [err, code] of cases) {
      const failure = classifyError(
        Object.assign(new Error((err as { message?: string }).message ?? 'e'), err),
      );
      assert.equal(failure.code, code, JSON.stringify(err));
      assert.ok(failure.hint.length > 20, code);
      if (code === 'DISK_FULL') assert.match(failure.hint, /Free some disk space/);
      if ('reason' in err) assert.match(failure.message, /too many connections/);
      if (code === 'CONNECTION_LOST' && 'code' in err && err.code === 'ETIMEOUT')
        assert.match(failure.message, /stopped answering .* 5 minutes/);
    }
  });
});
