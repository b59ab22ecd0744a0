/**
 * `show servers state` (format version 1), as HAProxy 2.6 prints it and as the
 * server-state file stores it:
 *   1
 *   # be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight ...
 *   2 c1 1 r01 127.0.0.1 2 0 100 100 ...
 * Rows keep every field, so a row can be rewritten and written back (server-state-file.ts).
 */
export interface ServerStateRow {
  backend: string;
  server: string;
  address: string;
  /** 0 stopped, 1 starting, 2 running, 3 stopping. */
  opState: number;
  /**
   * Bit field: 0x01 forced maint (CLI), 0x04 maint from the config (`disabled`), 0x08 forced
   * drain, 0x20 resolution maint, 0x40 name set by the CLI (ADMIN).
   */
  adminState: number;
  userWeight: number;
  initialWeight: number;
  port: number;
  fields: string[];
}

export const STATE_FIELD = {
  beId: 0,
  beName: 1,
  srvId: 2,
  srvName: 3,
  srvAddr: 4,
  opState: 5,
  adminState: 6,
  uweight: 7,
  iweight: 8,
  timeSinceLastChange: 9,
  checkStatus: 10,
  checkResult: 11,
  checkHealth: 12,
  checkState: 13,
  agentState: 14,
  /** The name HAProxy's resolvers follow for this server ('-' for none). */
  srvFqdn: 17,
  srvPort: 18,
} as const;

export const ADMIN = {
  forcedMaint: 0x01,
  inheritedMaint: 0x02,
  configMaint: 0x04,
  forcedDrain: 0x08,
  inheritedDrain: 0x10,
  resolutionMaint: 0x20,
  /** The server's name was set with `set server … fqdn` (a marker, not a maintenance). */
  fqdnFromCli: 0x40,
} as const;

export const OP_STATE = { stopped: 0, starting: 1, running: 2, stopping: 3 } as const;

/**
 * Whether a server takes traffic after a passed check: running, or starting, which is HAProxy's
 * state of a server in `slowstart` (up, its weight ramping; stats say "UP"). Every count of
 * up servers uses this, so a cluster with slowStartMs is not read as down while it ramps.
 */
export function passedCheck(opState: number): boolean {
  return opState === OP_STATE.running || opState === OP_STATE.starting;
}

/** The DNS name HAProxy follows for this server (config or `set server … fqdn`), if any. */
export function rowFqdn(row: ServerStateRow): string | undefined {
  const fqdn = row.fields[STATE_FIELD.srvFqdn];
  return fqdn === undefined || fqdn === '-' || fqdn === '' ? undefined : fqdn;
}

/** In maintenance now: a forced (CLI, agent, config `disabled`) or inherited maint. */
export function isInMaint(row: ServerStateRow): boolean {
  return (
    (row.adminState & (ADMIN.forcedMaint | ADMIN.inheritedMaint | ADMIN.resolutionMaint)) !== 0
  );
}

export interface ServersStateDump {
  version: string;
  header: string;
  rows: ServerStateRow[];
}

export function parseServersState(text: string): ServersStateDump {
  const lines = text.split('\n').map((line) => line.trimEnd());
  const version = lines.find((line) => line !== '') ?? '';
  if (version !== '1') {
    throw new Error(`unexpected servers state format: first line ${JSON.stringify(version)}`);
  }
  const header = lines.find((line) => line.startsWith('#')) ?? '';
  const rows: ServerStateRow[] = [];
  for (const line of lines) {
    if (line === '' || line === version || line.startsWith('#')) continue;
    const fields = line.split(' ');
    if (fields.length < 19) throw new Error(`malformed servers state line: ${line}`);
    rows.push(rowFromFields(fields));
  }
  return { version, header, rows };
}

export function rowFromFields(fields: string[]): ServerStateRow {
  const field = (i: number) => fields[i] ?? '';
  return {
    backend: field(STATE_FIELD.beName),
    server: field(STATE_FIELD.srvName),
    address: field(STATE_FIELD.srvAddr),
    opState: Number(field(STATE_FIELD.opState)),
    adminState: Number(field(STATE_FIELD.adminState)),
    userWeight: Number(field(STATE_FIELD.uweight)),
    initialWeight: Number(field(STATE_FIELD.iweight)),
    port: Number(field(STATE_FIELD.srvPort)),
    fields: [...fields],
  };
}

export function formatServersState(dump: ServersStateDump): string {
  return `${[dump.version, dump.header, ...dump.rows.map((r) => r.fields.join(' '))].join('\n')}\n`;
}
