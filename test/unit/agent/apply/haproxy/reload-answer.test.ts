import { describe, expect, it } from 'vitest';
import { parseReloadAnswer } from '../../../../../agent/haproxy/reload-answer';

/** The master CLI's answer to `reload`: HAProxy 3.0 (Success=1|0 + startup log) and 2.6 (none). */
describe('parseReloadAnswer', () => {
  it('reads Success=1 and keeps the startup log (3.0)', () => {
    // Prepare
    const text =
      'Success=1\n--\n[NOTICE]   (1234) : haproxy version is 3.0.11-1\n[NOTICE]   (1234) : path to executable is /usr/sbin/haproxy\n';
    // Act
    const answer = parseReloadAnswer(text);
    // Assess
    expect(answer).toEqual({
      kind: 'success',
      log: '[NOTICE]   (1234) : haproxy version is 3.0.11-1\n[NOTICE]   (1234) : path to executable is /usr/sbin/haproxy',
    });
  });

  it("reads Success=0 and makes HAProxy's [ALERT] lines the reason (3.0)", () => {
    // Prepare
    const text = [
      'Success=0',
      '--',
      '[NOTICE]   (1234) : haproxy version is 3.0.11-1',
      '[ALERT]    (1234) : Binding [/etc/haproxy/haproxy.cfg:61] for proxy aurora-orders: cannot bind socket (Address already in use) for [127.0.0.1:15432]',
      '[ALERT]    (1234) : [haproxy.main()] Some protocols failed to start their listeners! Exiting.',
      '',
    ].join('\n');
    // Act
    const answer = parseReloadAnswer(text);
    // Assess
    expect(answer.kind).toBe('failure');
    expect(answer.kind === 'failure' && answer.reason).toBe(
      'Binding [line 61] for proxy aurora-orders: cannot bind socket (Address already in use) for [127.0.0.1:15432]; [haproxy.main()] Some protocols failed to start their listeners! Exiting.',
    );
  });

  it('takes the tail of a failed startup log without alerts, and says when there is none', () => {
    // Act
    const withTail = parseReloadAnswer('Success=0\n--\nsomething odd\nhappened\n');
    const bare = parseReloadAnswer('Success=0\n');
    // Assess
    expect(withTail).toMatchObject({ kind: 'failure', reason: 'something odd | happened' });
    expect(bare).toMatchObject({ kind: 'failure', reason: 'no startup log' });
  });

  it('says nothing for 2.6 (no answer) or an answer without a Success line', () => {
    // Act + Assess
    expect(parseReloadAnswer('')).toEqual({ kind: 'none' });
    expect(parseReloadAnswer('Unknown command\n')).toEqual({ kind: 'none' });
    expect(parseReloadAnswer('NotSuccess=1\n')).toEqual({ kind: 'none' });
  });
});
