import { describe, expect, it } from 'vitest';
import { parseShowProc } from '../../../../../agent/haproxy/master-cli';
import {
  formatRuntimeCommand,
  isSuccessfulSetAnswer,
  parseStatCsv,
} from '../../../../../agent/haproxy/runtime-api';
import { isInMaint, parseServersState } from '../../../../../agent/haproxy/servers-state';

describe('show proc (HAProxy 2.6 master CLI)', () => {
  it('reads the master reload and failed counts and the current and old workers', () => {
    // Prepare
    const text = `#<PID>          <type>          <reloads>       <uptime>        <version>
8469            master          2 [failed: 1]   0d00h00m14s     2.6.12-1+deb12u4
# workers
8726            worker          0               0d00h00m09s     2.6.12-1+deb12u4
# old workers
8473            worker          1               0d00h00m20s     2.6.12-1+deb12u4
# programs
`;
    // Act
    const procs = parseShowProc(text);
    // Assess
    const version = '2.6.12-1+deb12u4';
    expect(procs.master).toEqual({ pid: 8469, reloads: 2, failedReloads: 1, version });
    expect(procs.workers).toEqual([{ pid: 8726, type: 'worker', reloads: 0, version }]);
    expect(procs.oldWorkers).toEqual([{ pid: 8473, type: 'worker', reloads: 1, version }]);
  });
});

describe('show servers state', () => {
  it('parses rows, with a disabled spare in maintenance and a filled slot ready', () => {
    // Prepare
    const text = `1
# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port
3 aurora-orders 1 r01 127.0.0.1 2 0 100 100 1 1 0 2 0 0 0 0 - 39085 - 0 0 - - 0
3 aurora-orders 2 r02 192.0.2.1 0 5 100 100 0 1 0 0 14 0 0 0 - 5432 - 0 0 - - 0

`;
    // Act
    const dump = parseServersState(text);
    // Assess
    expect(dump.rows.map((r) => [r.server, r.address, r.port, isInMaint(r)])).toEqual([
      ['r01', '127.0.0.1', 39085, false],
      ['r02', '192.0.2.1', 5432, true],
    ]);
  });

  it('rejects an answer that is not a state dump', () => {
    // Prepare / Act / Assess
    expect(() => parseServersState('Unknown command.\n')).toThrow(/unexpected servers state/);
  });
});

describe('runtime API commands', () => {
  it('formats set server commands and refuses values that could inject a command', () => {
    // Prepare / Act / Assess
    expect(
      formatRuntimeCommand({
        kind: 'addr',
        backend: 'b',
        server: 'r01',
        address: '10.0.0.1',
        port: 5432,
      }),
    ).toBe('set server b/r01 addr 10.0.0.1 port 5432');
    expect(() =>
      formatRuntimeCommand({
        kind: 'addr',
        backend: 'b',
        server: 'r01',
        address: '1.2.3.4;shutdown',
        port: 1,
      }),
    ).toThrow();
    expect(() =>
      formatRuntimeCommand({ kind: 'state', backend: 'b c', server: 'r01', state: 'ready' }),
    ).toThrow();
  });

  it('treats HAProxy notes as success and messages as failure', () => {
    // Prepare / Act / Assess
    expect(isSuccessfulSetAnswer('\n')).toBe(true);
    expect(
      isSuccessfulSetAnswer(
        "IP changed from '192.0.2.1' to '10.0.0.2', port changed from '5432' to '5433' by 'stats socket command'\n",
      ),
    ).toBe(true);
    expect(isSuccessfulSetAnswer('No such server.\n')).toBe(false);
  });
});

describe('show stat', () => {
  it('reads current sessions per proxy and server from the CSV', () => {
    // Prepare
    const text =
      '# pxname,svname,qcur,qmax,scur,smax\naurora-orders,r01,0,0,3,9\naurora-orders,BACKEND,0,0,3,9\n\n';
    // Act
    const rows = parseStatCsv(text);
    // Assess
    expect(rows[0]).toMatchObject({ pxname: 'aurora-orders', svname: 'r01', scur: '3' });
    expect(rows).toHaveLength(2);
  });
});
