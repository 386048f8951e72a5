/**
 * Our own offline checks of an Outlook add-in manifest, beyond what office-addin-manifest's
 * parser reads: the things that make Outlook refuse a manifest or show a broken button, and
 * the things specific to a pane served by the local agent. Each rule returns what is wrong,
 * in words that name the element; an empty list means the manifest passed.
 */
import { DOMParser, type Document, type Element } from '@xmldom/xmldom';

export const NS = {
  officeApp: 'http://schemas.microsoft.com/office/appforoffice/1.1',
  xsi: 'http://www.w3.org/2001/XMLSchema-instance',
  bt: 'http://schemas.microsoft.com/office/officeappbasictypes/1.0',
  overrides10: 'http://schemas.microsoft.com/office/mailappversionoverrides',
  overrides11: 'http://schemas.microsoft.com/office/mailappversionoverrides/1.1',
} as const;

/** Limits Outlook enforces (MS-OWEMXML and the add-in manifest reference). */
export const LIMITS = {
  resid: 32,
  shortString: 125,
  longString: 250,
  displayName: 125,
  description: 250,
} as const;

/** Mailbox requirement set that first has each API the pane calls, found by name in its code. */
export const API_REQUIREMENTS: ReadonlyArray<{ api: string; pattern: RegExp; mailbox: string }> = [
  { api: 'item.internetMessageId', pattern: /\binternetMessageId\b/, mailbox: '1.1' },
  { api: 'item.notificationMessages', pattern: /\bnotificationMessages\b/, mailbox: '1.3' },
  { api: 'mailbox.addHandlerAsync (ItemChanged)', pattern: /\baddHandlerAsync\b/, mailbox: '1.5' },
];

export interface ManifestFacts {
  /** The pane's sources (text), to find which APIs it calls. */
  paneSources: readonly string[];
  /** Pixel size of the PNG a URL path ("/assets/icon-16.png") is served from; null if none. */
  iconSize(urlPath: string): { width: number; height: number } | null;
}

export type Rule = (doc: Document, facts: ManifestFacts) => string[];

/** Parses, then runs every rule; a manifest that is not well-formed XML gets that one problem. */
export function checkManifestXml(xml: string, facts: ManifestFacts): string[] {
  const parsed = parseManifest(xml);
  if ('error' in parsed) return [parsed.error];
  return Object.values(RULES).flatMap((rule) => rule(parsed.doc, facts));
}

export function parseManifest(xml: string): { doc: Document } | { error: string } {
  const problems: string[] = [];
  let doc: Document;
  try {
    doc = new DOMParser({
      onError: (level, message) => {
        if (level !== 'warning') problems.push(message);
      },
    }).parseFromString(xml, 'text/xml');
  } catch (err) {
    return { error: `not well-formed XML: ${(err as Error).message.split('\n')[0]}` };
  }
  if (problems.length > 0) return { error: `not well-formed XML: ${problems[0]!.split('\n')[0]}` };
  return { doc };
}

// ---------------------------------------------------------------- helpers

function all(root: Document | Element, ns: string, name: string): Element[] {
  return Array.from(root.getElementsByTagNameNS(ns, name));
}

function first(root: Document | Element, ns: string, name: string): Element | null {
  return all(root, ns, name)[0] ?? null;
}

function xsiType(el: Element): string | null {
  return el.getAttributeNS(NS.xsi, 'type');
}

function attr(el: Element | null, name: string): string | null {
  return el?.getAttribute(name) ?? null;
}

/** Every URL the manifest names, with where: DefaultValue attributes and AppDomain texts. */
function urls(doc: Document): Array<{ where: string; url: string }> {
  const found: Array<{ where: string; url: string }> = [];
  for (const el of Array.from(doc.getElementsByTagName('*'))) {
    const value = el.getAttribute('DefaultValue');
    if (value && /^[a-z][a-z0-9+.-]*:\/\//i.test(value))
      found.push({
        where: `${el.localName}${el.getAttribute('id') ? `#${el.getAttribute('id')}` : ''}`,
        url: value,
      });
  }
  return found;
}

function sourceOrigin(doc: Document): string | null {
  const source = first(doc, NS.officeApp, 'SourceLocation');
  try {
    return new URL(attr(source, 'DefaultValue') ?? '').origin;
  } catch {
    return null;
  }
}

function compareVersions(a: string, b: string): number {
  const [a1, a2] = a.split('.').map(Number);
  const [b1, b2] = b.split('.').map(Number);
  return (a1! - b1!) * 1000 + ((a2 ?? 0) - (b2 ?? 0));
}

// ---------------------------------------------------------------- rules

export const RULES: Record<string, Rule> = {
  /** OfficeApp 1.1 MailApp, with VersionOverrides 1.0 around 1.1, each of its xsi:type. */
  namespaces(doc) {
    const problems: string[] = [];
    const root = doc.documentElement;
    if (!root || root.localName !== 'OfficeApp' || root.namespaceURI !== NS.officeApp)
      problems.push(`the root element must be OfficeApp in ${NS.officeApp}`);
    else if (xsiType(root) !== 'MailApp')
      problems.push(`OfficeApp xsi:type must be MailApp, not ${xsiType(root) ?? 'missing'}`);
    const outer = first(doc, NS.overrides10, 'VersionOverrides');
    if (!outer) problems.push(`no VersionOverrides in ${NS.overrides10}`);
    else if (xsiType(outer) !== 'VersionOverridesV1_0')
      problems.push(`VersionOverrides 1.0 xsi:type must be VersionOverridesV1_0`);
    const inner = first(doc, NS.overrides11, 'VersionOverrides');
    if (!inner) problems.push(`no VersionOverrides in ${NS.overrides11}`);
    else {
      if (xsiType(inner) !== 'VersionOverridesV1_1')
        problems.push(`VersionOverrides 1.1 xsi:type must be VersionOverridesV1_1`);
      if (inner.parentNode !== outer)
        problems.push('VersionOverrides 1.1 must be inside VersionOverrides 1.0');
    }
    return problems;
  },

  id(doc) {
    const id = first(doc, NS.officeApp, 'Id')?.textContent?.trim() ?? '';
    return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)
      ? []
      : [`Id "${id}" is not a GUID`];
  },

  version(doc) {
    const version = first(doc, NS.officeApp, 'Version')?.textContent?.trim() ?? '';
    return /^\d{1,5}(\.\d{1,5}){3}$/.test(version)
      ? []
      : [`Version "${version}" is not of the form n.n.n.n`];
  },

  /** https only, all on the pane's origin, which AppDomains lists. */
  urls(doc) {
    const problems: string[] = [];
    const origin = sourceOrigin(doc);
    if (!origin) return ['SourceLocation has no usable DefaultValue URL'];
    const domains = all(doc, NS.officeApp, 'AppDomain').map((d) => d.textContent?.trim() ?? '');
    if (!domains.includes(origin)) problems.push(`AppDomains does not list ${origin}`);
    for (const { where, url } of urls(doc)) {
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        problems.push(`${where}: "${url}" is not a URL`);
        continue;
      }
      if (parsed.protocol !== 'https:') problems.push(`${where}: ${url} is not https`);
      else if (parsed.origin !== origin && !domains.includes(parsed.origin))
        problems.push(`${where}: ${url} is outside ${origin} and AppDomains`);
    }
    return problems;
  },

  /** Every resid names a resource of its VersionOverrides; ids are at most 32 characters. */
  resids(doc) {
    const problems: string[] = [];
    const defined = new Set<string>();
    for (const name of ['Image', 'Url', 'String']) {
      for (const el of all(doc, NS.bt, name)) {
        const id = el.getAttribute('id');
        if (!id) continue;
        if (
          el.parentNode &&
          ['Images', 'Urls', 'ShortStrings', 'LongStrings'].includes(
            (el.parentNode as Element).localName ?? '',
          )
        )
          defined.add(id);
        if (id.length > LIMITS.resid)
          problems.push(`resource id ${id} is longer than ${LIMITS.resid} characters`);
      }
    }
    for (const el of Array.from(doc.getElementsByTagName('*'))) {
      const resid = el.getAttribute('resid');
      if (resid === null || resid === '') continue;
      if (resid.length > LIMITS.resid)
        problems.push(`${el.localName}: resid ${resid} is longer than ${LIMITS.resid} characters`);
      if (!defined.has(resid))
        problems.push(`${el.localName}: resid ${resid} is not defined in Resources`);
    }
    return problems;
  },

  lengths(doc) {
    const problems: string[] = [];
    const check = (what: string, text: string | null, max: number) => {
      if (text !== null && text.length > max)
        problems.push(`${what} is ${text.length} characters, more than ${max}`);
    };
    check(
      'DisplayName',
      attr(first(doc, NS.officeApp, 'DisplayName'), 'DefaultValue'),
      LIMITS.displayName,
    );
    check(
      'Description',
      attr(first(doc, NS.officeApp, 'Description'), 'DefaultValue'),
      LIMITS.description,
    );
    for (const [list, max] of [
      ['ShortStrings', LIMITS.shortString],
      ['LongStrings', LIMITS.longString],
    ] as const) {
      for (const parent of all(doc, NS.bt, list))
        for (const s of all(parent, NS.bt, 'String'))
          check(`${list} ${s.getAttribute('id')}`, s.getAttribute('DefaultValue'), max);
    }
    return problems;
  },

  /** Each icon is a PNG the agent serves, in the size the manifest declares for it. */
  icons(doc, facts) {
    const problems: string[] = [];
    const images = new Map(
      all(doc, NS.bt, 'Image')
        .filter((i) => i.getAttribute('DefaultValue'))
        .map((i) => [i.getAttribute('id')!, i.getAttribute('DefaultValue')!]),
    );
    const wanted: Array<{ what: string; url: string | null; size: number }> = [
      { what: 'IconUrl', url: attr(first(doc, NS.officeApp, 'IconUrl'), 'DefaultValue'), size: 64 },
      {
        what: 'HighResolutionIconUrl',
        url: attr(first(doc, NS.officeApp, 'HighResolutionIconUrl'), 'DefaultValue'),
        size: 128,
      },
    ];
    for (const use of all(doc, NS.bt, 'Image')) {
      const resid = use.getAttribute('resid');
      if (!resid) continue;
      wanted.push({
        what: `Icon ${resid}`,
        url: images.get(resid) ?? null,
        size: Number(use.getAttribute('size')),
      });
    }
    for (const { what, url, size } of wanted) {
      if (!url) {
        if (!what.startsWith('Icon ')) problems.push(`${what} is missing`);
        continue;
      }
      let pathname: string;
      try {
        pathname = new URL(url).pathname;
      } catch {
        continue; // the urls rule says so
      }
      const actual = facts.iconSize(pathname);
      if (!actual) problems.push(`${what}: the agent serves no PNG at ${pathname}`);
      else if (actual.width !== size || actual.height !== size)
        problems.push(
          `${what}: ${pathname} is ${actual.width}×${actual.height}, declared ${size}×${size}`,
        );
    }
    return problems;
  },

  /** The Mailbox requirement sets cover every API the pane calls, and pinning. */
  requirements(doc, facts) {
    const problems: string[] = [];
    const needed = API_REQUIREMENTS.filter((r) => facts.paneSources.some((s) => r.pattern.test(s)));
    if (all(doc, NS.overrides11, 'SupportsPinning').some((p) => p.textContent?.trim() === 'true'))
      needed.push({ api: 'SupportsPinning', pattern: /$^/, mailbox: '1.5' });
    const mailboxSet = all(doc, NS.officeApp, 'Set').find(
      (s) => s.getAttribute('Name') === 'Mailbox',
    );
    const declared = [{ where: 'Requirements', version: attr(mailboxSet ?? null, 'MinVersion') }];
    const overrides = first(doc, NS.overrides11, 'VersionOverrides');
    const btSets = overrides ? first(overrides, NS.bt, 'Sets') : null;
    if (overrides) {
      const btMailbox = btSets
        ? all(btSets, NS.bt, 'Set').find((s) => s.getAttribute('Name') === 'Mailbox')
        : undefined;
      declared.push({
        where: 'VersionOverrides 1.1 Requirements',
        version: attr(btMailbox ?? null, 'MinVersion') ?? attr(btSets, 'DefaultMinVersion'),
      });
    }
    for (const { where, version } of declared) {
      if (!version || !/^\d+\.\d+$/.test(version)) {
        problems.push(`${where}: no Mailbox requirement set with a MinVersion`);
        continue;
      }
      for (const need of needed)
        if (compareVersions(version, need.mailbox) < 0)
          problems.push(
            `${where}: Mailbox ${version} does not cover ${need.api} (needs ${need.mailbox})`,
          );
    }
    return problems;
  },
};
