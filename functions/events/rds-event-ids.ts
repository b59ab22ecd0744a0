/**
 * RDS event IDs that mean "look again": each can change which instances a cluster has,
 * which one is the writer, or whether an instance can serve. From the RDS event catalogue
 * for Aurora (DB cluster events and DB instance events). Any other event (backups,
 * snapshots, parameter groups, storage, exports, ...) is ignored without a reconcile.
 * The schedule is the safety net for events that are lost or never emitted.
 */
export const CLUSTER_LOOK_AGAIN_EVENTS: Readonly<Record<string, string>> = {
  'RDS-EVENT-0069': 'cluster failover failed',
  'RDS-EVENT-0070': 'promoting previous primary again',
  'RDS-EVENT-0071': 'completed failover to a DB instance',
  'RDS-EVENT-0072': 'started same-AZ failover',
  'RDS-EVENT-0073': 'started cross-AZ failover',
  'RDS-EVENT-0150': 'DB cluster stopped',
  'RDS-EVENT-0151': 'DB cluster started',
  'RDS-EVENT-0152': 'DB cluster stop failed',
  'RDS-EVENT-0153': 'DB cluster started after the maximum stopped time',
  'RDS-EVENT-0170': 'DB cluster created',
  'RDS-EVENT-0171': 'DB cluster deleted',
  'RDS-EVENT-0172': 'DB cluster renamed',
  'RDS-EVENT-0173': 'cluster engine version upgraded (instances restarted)',
  'RDS-EVENT-0176': 'cluster engine major version upgraded',
  'RDS-EVENT-0184': 'global switchover: new primary cluster promoted',
  'RDS-EVENT-0185': 'global switchover finished',
  'RDS-EVENT-0238': 'global failover completed',
  'RDS-EVENT-0289': 'cluster operating system upgrade completed',
};

export const INSTANCE_LOOK_AGAIN_EVENTS: Readonly<Record<string, string>> = {
  'RDS-EVENT-0003': 'DB instance deleted',
  'RDS-EVENT-0004': 'DB instance shutdown',
  'RDS-EVENT-0005': 'DB instance created',
  'RDS-EVENT-0006': 'DB instance restarted',
  'RDS-EVENT-0012': 'applying a DB instance class change',
  'RDS-EVENT-0014': 'finished applying a DB instance class change',
  'RDS-EVENT-0020': 'DB instance recovery started',
  'RDS-EVENT-0021': 'DB instance recovery complete',
  'RDS-EVENT-0026': 'applying off-line patches (instance unavailable)',
  'RDS-EVENT-0027': 'finished applying off-line patches',
  'RDS-EVENT-0035': 'DB instance put into an incompatible-parameters state',
  'RDS-EVENT-0036': 'DB instance in an incompatible network',
  'RDS-EVENT-0047': 'DB instance patched',
  'RDS-EVENT-0087': 'DB instance stopped',
  'RDS-EVENT-0088': 'DB instance started',
  'RDS-EVENT-0372': 'Serverless v2 DB instance paused',
  'RDS-EVENT-0374': 'Serverless v2 DB instance resumed',
  'RDS-EVENT-0385': 'cluster topology updated (instance added or deleted, or failover)',
  'RDS-EVENT-0419': 'DB instance encryption key inaccessible',
};

/**
 * Of the instance events, those that can concern an instance we have never seen: it may
 * be a new member of a registered cluster, so an unknown instance with one of these still
 * triggers a reconcile. Any other event for an unknown instance cannot change what is
 * served (an instance never observed is in no bundle) and is ignored.
 */
export const NEW_MEMBER_EVENTS: ReadonlySet<string> = new Set(['RDS-EVENT-0005', 'RDS-EVENT-0385']);

/**
 * RDS event categories that mean "look again" whatever the event ID (RDS adds IDs over
 * time; e.g. the instance `failover` event RDS-EVENT-0049 is in no list above). An event of
 * one of these categories acts even when its ID is not listed; the lists stay for events of
 * other categories (e.g. `notification`: topology updated, `configuration change`: class
 * change). The EventBridge rules match the same way (serverless.yml), so an event the
 * rules deliver is one the parser understands.
 */
export const LOOK_AGAIN_CATEGORIES: ReadonlySet<string> = new Set([
  'failover',
  'availability',
  'creation',
  'deletion',
  'recovery',
]);

/**
 * Of those categories, the ones that can concern an instance no cached topology names
 * (a new member, or one a failover just made writer): such an event still acts.
 */
export const NEW_MEMBER_CATEGORIES: ReadonlySet<string> = new Set(['creation', 'failover']);
