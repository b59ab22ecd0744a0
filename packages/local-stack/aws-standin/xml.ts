/**
 * Minimal XML writer for the AWS Query-protocol stand-ins. Values are escaped; element names
 * come from this code only. `el('A', 'x')` -> `<A>x</A>`; undefined children are left out, as
 * AWS leaves out absent optional members.
 */
export type XmlChild = string | undefined | null | false;

export function escapeXml(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** An element whose children are already-built XML fragments. */
export function el(name: string, ...children: XmlChild[]): string {
  return `<${name}>${children.filter((c): c is string => typeof c === 'string').join('')}</${name}>`;
}

/** An element holding one scalar value (escaped); undefined leaves the element out. */
export function val(
  name: string,
  value: string | number | boolean | undefined,
): string | undefined {
  if (value === undefined) return undefined;
  return `<${name}>${escapeXml(String(value))}</${name}>`;
}

export function xmlDocument(root: string, namespace: string, ...children: XmlChild[]): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${root} xmlns="${namespace}">${children
    .filter((c): c is string => typeof c === 'string')
    .join('')}</${root}>`;
}
