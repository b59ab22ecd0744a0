/** A C0 control character (NUL, tab, newline, carriage return, ...) or DEL anywhere in `s`. */
export function hasControlCharacter(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const code = s.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}
