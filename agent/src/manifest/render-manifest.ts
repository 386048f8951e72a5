/**
 * A manifest for another host, port or add-in id: the shipped manifest.xml with its origin
 * and <Id> replaced, and nothing else changed (so every rule that holds for it still holds).
 */

export const SHIPPED_ORIGIN = 'https://localhost:4643';
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/**
 * The names the agent answers to (any other Host is refused, loopback-policy.ts) and its
 * certificate covers: a pane anywhere else would never load.
 */
const AGENT_HOSTS = ['localhost', '127.0.0.1'];

export interface ManifestTarget {
  host: string;
  port: number;
  /** The add-in's GUID; a second StoreSync (another dataDir) needs its own. */
  id?: string;
}

/** Throws an error naming the option when one is not usable. */
export function checkTarget(target: ManifestTarget): void {
  if (!AGENT_HOSTS.includes(target.host.toLowerCase()))
    throw new Error(
      `--host: "${target.host}" is not a name the agent answers to (${AGENT_HOSTS.join(' or ')}): it refuses requests for any other host, so the pane would not load`,
    );
  if (!Number.isInteger(target.port) || target.port < 1 || target.port > 65535)
    throw new Error(`--port: "${target.port}" is not a port number (1-65535)`);
  if (target.id !== undefined && !GUID.test(target.id))
    throw new Error(
      `--id: "${target.id}" is not a GUID (like 6f1d2c8e-3b4a-4c59-9e7d-5a2b1c0d9e84)`,
    );
}

export function originOf(target: ManifestTarget): string {
  return target.port === 443
    ? `https://${target.host.toLowerCase()}`
    : `https://${target.host.toLowerCase()}:${target.port}`;
}

export function renderManifest(template: string, target: ManifestTarget): string {
  checkTarget(target);
  let xml = template.split(SHIPPED_ORIGIN).join(originOf(target));
  if (target.id) xml = xml.replace(/<Id>[^<]*<\/Id>/, `<Id>${target.id.toLowerCase()}</Id>`);
  return xml;
}
