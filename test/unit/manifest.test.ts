/**
 * manifest.xml and the rules `npm run manifest:validate` applies: the shipped manifest and one
 * rendered for another host pass; each rule is shown failing on a manifest broken its way.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { localManifestFacts } from '../../agent/src/manifest/local-facts.js';
import {
  checkManifestXml,
  type ManifestFacts,
  parseManifest,
  RULES,
} from '../../agent/src/manifest/manifest-rules.js';
import { renderManifest } from '../../agent/src/manifest/render-manifest.js';
import { runCli } from '../support/storesync-process.js';

const shipped = readFileSync('manifest.xml', 'utf8');
const facts = localManifestFacts();

/** Problems one rule finds in `xml`, which must parse. */
function rule(name: keyof typeof RULES, xml: string, with_: ManifestFacts = facts): string[] {
  const parsed = parseManifest(xml);
  assert.ok('doc' in parsed, 'error' in parsed ? parsed.error : '');
  return RULES[name]!(parsed.doc, with_);
}

function broken(from: string | RegExp, to: string): string {
  const xml = shipped.replace(from, to);
  assert.notEqual(xml, shipped, `the test's replacement of ${from} matched nothing`);
  return xml;
}

describe('manifest.xml', () => {
  it('is well-formed XML (xmllint agrees)', () => {
    execFileSync('xmllint', ['--noout', 'manifest.xml'], { stdio: 'pipe' });
  });

  it('passes every rule, as does one rendered for another host, port and id', () => {
    assert.deepEqual(checkManifestXml(shipped, facts), []);
    const other = renderManifest(shipped, {
      host: '127.0.0.1',
      port: 5443,
      id: '0B5E5A62-2F6C-4A8E-9D0E-7C1A3B2D4E5F',
    });
    assert.deepEqual(checkManifestXml(other, facts), []);
    assert.match(other, /<Id>0b5e5a62-2f6c-4a8e-9d0e-7c1a3b2d4e5f<\/Id>/);
    assert.doesNotMatch(other, /localhost:4643/);
    assert.match(
      other,
      /<SourceLocation DefaultValue="https:\/\/127\.0\.0\.1:5443\/taskpane\.html"/,
    );
  });

  it('`storesync manifest` refuses what it cannot render, quoting what was typed', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'storesync-manifest-'));
    try {
      const out = path.join(dir, 'manifest.xml');
      const port = await runCli(['manifest', '--port', 'abc', '--out', out]);
      assert.equal(port.code, 2);
      assert.match(port.stderr, /--port: "abc" is not a port number/);
      const host = await runCli(['manifest', '--host', 'mail.example.com', '--out', out]);
      assert.equal(host.code, 2);
      assert.match(host.stderr, /--host: "mail\.example\.com" is not a name the agent answers to/);
      const good = await runCli([
        'manifest',
        '--host',
        '127.0.0.1',
        '--port',
        '5443',
        '--out',
        out,
      ]);
      assert.equal(good.code, 0, good.stderr);
      assert.match(readFileSync(out, 'utf8'), /https:\/\/127\.0\.0\.1:5443\/taskpane\.html/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is rendered only for a usable host, port and GUID, naming the option', () => {
    assert.throws(() => renderManifest(shipped, { host: 'a b', port: 1 }), /^Error: --host: /);
    // A name the agent would refuse (its Host check): the pane could never load from it.
    assert.throws(
      () => renderManifest(shipped, { host: 'mail.example.com', port: 1 }),
      /^Error: --host: "mail\.example\.com" is not a name the agent answers to/,
    );
    assert.throws(
      () => renderManifest(shipped, { host: 'localhost', port: 70000 }),
      /^Error: --port: /,
    );
    assert.throws(
      () => renderManifest(shipped, { host: 'localhost', port: 1, id: 'x' }),
      /^Error: --id: /,
    );
  });
});

describe('manifest rules, each failing on a manifest broken its way', () => {
  it('well-formed XML', () => {
    const problems = checkManifestXml(broken('</Version>', '</Versio>'), facts);
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /^not well-formed XML/);
  });

  it('OfficeApp 1.1 MailApp and VersionOverrides namespaces and xsi:types', () => {
    assert.match(
      rule('namespaces', broken('xsi:type="MailApp"', 'xsi:type="TaskPaneApp"')).join(),
      /MailApp/,
    );
    assert.match(
      rule('namespaces', broken('appforoffice/1.1"', 'appforoffice/1.0"')).join(),
      /root element must be OfficeApp/,
    );
    assert.match(
      rule(
        'namespaces',
        broken('xsi:type="VersionOverridesV1_1"', 'xsi:type="VersionOverridesV1_0"'),
      ).join(),
      /VersionOverridesV1_1/,
    );
    assert.match(
      rule(
        'namespaces',
        broken('mailappversionoverrides/1.1"', 'mailappversionoverrides/1.2"'),
      ).join(),
      /no VersionOverrides in .*\/1\.1/,
    );
  });

  it('GUID Id and n.n.n.n Version', () => {
    assert.match(rule('id', broken(/<Id>[^<]+<\/Id>/, '<Id>storesync</Id>')).join(), /not a GUID/);
    assert.match(rule('version', broken('<Version>1.0.0.0', '<Version>1.0')).join(), /n\.n\.n\.n/);
  });

  it('every URL https and on the pane’s origin, which AppDomains lists', () => {
    assert.match(
      rule(
        'urls',
        broken(
          'https://localhost:4643/assets/icon-16.png',
          'http://localhost:4643/assets/icon-16.png',
        ),
      ).join(),
      /Image#Icon16: http:\/\/localhost:4643\/assets\/icon-16\.png is not https/,
    );
    assert.match(
      rule(
        'urls',
        broken('https://localhost:4643/assets/icon-32.png', 'https://cdn.example.com/icon-32.png'),
      ).join(),
      /outside https:\/\/localhost:4643/,
    );
    assert.match(
      rule(
        'urls',
        broken(
          '<AppDomain>https://localhost:4643</AppDomain>',
          '<AppDomain>https://localhost:1</AppDomain>',
        ),
      ).join(),
      /AppDomains does not list https:\/\/localhost:4643/,
    );
  });

  it('every resid defined, at most 32 characters', () => {
    assert.match(
      rule(
        'resids',
        broken('<Label resid="GroupLabel" />', '<Label resid="NoSuchLabel" />'),
      ).join(),
      /resid NoSuchLabel is not defined/,
    );
    const long = 'A'.repeat(33);
    assert.match(
      rule('resids', shipped.replaceAll('PaneButtonTooltip', long)).join(),
      /longer than 32/,
    );
  });

  it('string length limits', () => {
    assert.match(
      rule(
        'lengths',
        broken(
          '<bt:String id="GroupLabel" DefaultValue="StoreSync" />',
          `<bt:String id="GroupLabel" DefaultValue="${'x'.repeat(126)}" />`,
        ),
      ).join(),
      /ShortStrings GroupLabel is 126 characters, more than 125/,
    );
    assert.match(
      rule(
        'lengths',
        broken(
          /<Description DefaultValue="[^"]*"/,
          `<Description DefaultValue="${'x'.repeat(251)}"`,
        ),
      ).join(),
      /Description is 251 characters/,
    );
  });

  it('each icon a PNG the agent serves, in the declared size', () => {
    assert.match(
      rule(
        'icons',
        broken('<bt:Image size="32" resid="Icon32" />', '<bt:Image size="32" resid="Icon16" />'),
      ).join(),
      /Icon Icon16: \/assets\/icon-16\.png is 16×16, declared 32×32/,
    );
    assert.match(
      rule('icons', broken('assets/icon-80.png', 'assets/icon-81.png')).join(),
      /serves no PNG at \/assets\/icon-81\.png/,
    );
  });

  it('requirement sets that cover the APIs the pane calls', () => {
    const old = broken(
      '<Set Name="Mailbox" MinVersion="1.5" />',
      '<Set Name="Mailbox" MinVersion="1.1" />',
    );
    const problems = rule('requirements', old).join('\n');
    assert.match(
      problems,
      /Requirements: Mailbox 1\.1 does not cover item\.notificationMessages \(needs 1\.3\)/,
    );
    assert.match(problems, /does not cover mailbox\.addHandlerAsync/);
    // Only what the pane calls counts: without notificationMessages and ItemChanged, 1.1 would do.
    const plain: ManifestFacts = { ...facts, paneSources: ['item.internetMessageId'] };
    const unpinned = old.replace('<SupportsPinning>true</SupportsPinning>', '');
    assert.deepEqual(
      rule('requirements', unpinned, plain).filter((p) => p.startsWith('Requirements:')),
      [],
    );
  });
});
