/**
 * Text and attribute values for the two XML files the service writes (launchd's plist and
 * Task Scheduler's task). Both are a fixed shape around a few paths; the five entities are all
 * XML 1.0 needs escaped, and characters XML cannot carry at all are refused.
 */
export function xmlText(value: string): string {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/.test(value)) {
    throw new Error(`a control character cannot be written to XML: ${JSON.stringify(value)}`);
  }
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}
