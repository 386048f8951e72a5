/**
 * Per account: server reachable → TLS → login → capabilities, each its own check. A step
 * that fails ends the chain: the ones after it would only fail for the same reason.
 */
import type { AccountConfig } from '../config/load.js';
import { classifyError, ERROR_TABLE } from '../sync/errors.js';
import { describeCapabilities, syncSpeedSummary } from './capabilities.js';
import { probeLogin, probeTcp, probeTls } from './imap-probe.js';
import { errorText, fail, ok, type DoctorCheck } from './types.js';

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** What to do about a certificate verdict, by OpenSSL's error code. */
function certificateHint(code: string): string {
  if (/SELF_SIGNED|UNABLE_TO_GET_ISSUER|UNABLE_TO_VERIFY/.test(code)) {
    return 'The server\'s certificate is not signed by a CA this machine trusts. If it is your own server, set "allowSelfSigned": true for this account; otherwise do not connect.';
  }
  if (/ALTNAME|HOSTNAME/.test(code)) {
    return 'The certificate is for another host name: use the host name it was issued for in imap.host.';
  }
  if (/EXPIRED/.test(code)) return "The server's certificate has expired: tell its administrator.";
  return ERROR_TABLE.TLS_ERROR.hint;
}

async function checkTls(account: AccountConfig, tag: (c: DoctorCheck) => DoctorCheck) {
  const { imap } = account;
  if (imap.tls === 'none') {
    return LOOPBACK.has(imap.host)
      ? tag(ok('imap.tls', 'TLS not used (tls "none", fine for a server on this machine)'))
      : tag({
          id: 'imap.tls',
          status: 'warn',
          title: `TLS not used: the password and mail cross the network in clear to ${imap.host}`,
          hint: 'Set "tls": "implicit" (port 993) or "starttls" (port 143) if the server offers it.',
        });
  }
  try {
    const probe = await probeTls(account);
    const cert = `certificate "${probe.subject}" from "${probe.issuer}", valid until ${probe.validTo.toISOString().slice(0, 10)}`;
    if (probe.authorizationError === null) {
      return tag(ok('imap.tls', `TLS OK (${imap.tls}, ${probe.protocol}, ${cert})`));
    }
    if (imap.allowSelfSigned) {
      return tag(
        ok('imap.tls', `TLS OK (${imap.tls}, ${probe.protocol}; not verified: allowSelfSigned)`, [
          `${probe.authorizationError}: ${cert}`,
        ]),
      );
    }
    return tag(
      fail(
        'imap.tls',
        `TLS certificate not trusted (${probe.authorizationError}; ${cert})`,
        certificateHint(probe.authorizationError),
      ),
    );
  } catch (err) {
    return tag(
      fail(
        'imap.tls',
        `TLS handshake failed (${imap.tls} on port ${imap.port}): ${errorText(err)}`,
        ERROR_TABLE.TLS_ERROR.hint,
      ),
    );
  }
}

export async function checkAccount(account: AccountConfig): Promise<DoctorCheck[]> {
  const tag = (c: DoctorCheck): DoctorCheck => ({ ...c, account: account.id });
  const { host, port } = account.imap;
  const name = `${account.id}: `;
  const checks: DoctorCheck[] = [];

  try {
    await probeTcp(host, port);
    checks.push(tag(ok('imap.reachable', `${name}server ${host}:${port} reachable`)));
  } catch (err) {
    checks.push(
      tag(
        fail(
          'imap.reachable',
          `${name}cannot reach ${host}:${port}: ${errorText(err)}`,
          ERROR_TABLE.CONNECTION_FAILED.hint,
        ),
      ),
    );
    return checks;
  }

  const tlsCheck = await checkTls(account, tag);
  checks.push({ ...tlsCheck, title: name + tlsCheck.title });
  if (tlsCheck.status === 'fail') return checks;

  let capabilities: string[];
  try {
    capabilities = await probeLogin(account);
    checks.push(tag(ok('imap.login', `${name}login OK as ${account.imap.user}`)));
  } catch (err) {
    const failure = classifyError(err);
    checks.push(
      tag(
        fail('imap.login', `${name}login failed: ${failure.message}`, failure.hint, [failure.code]),
      ),
    );
    return checks;
  }

  checks.push(
    tag(
      ok(
        'imap.capabilities',
        `${name}${syncSpeedSummary(new Set(capabilities))}`,
        describeCapabilities(capabilities),
      ),
    ),
  );
  return checks;
}
