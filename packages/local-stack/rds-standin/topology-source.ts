/**
 * What the RDS stand-in describes: simulated Aurora clusters and their instances. The stand-in
 * asks its source on every request, so its answers follow the simulated clusters as they change
 * (failover, replica added or removed, node stopped).
 */
export interface SimulatedInstance {
  instanceId: string;
  address: string;
  port: number;
  isWriter: boolean;
  /** DBInstanceStatus: available, stopped, rebooting, … */
  status: string;
  instanceClass: string;
  az: string;
  /** Failover priority 0-15 (Aurora PromotionTier). */
  promotionTier: number;
}

export interface SimulatedClusterView {
  clusterId: string;
  /** DBCluster Status: available, failing-over, … */
  status: string;
  /** Port clients connect to (the writer's). */
  port: number;
  instances: SimulatedInstance[];
}

export interface TopologySource {
  clusters(): Promise<SimulatedClusterView[]>;
}

/** A fixed description, for protocol tests that need no PostgreSQL. */
export class StaticTopologySource implements TopologySource {
  constructor(private views: SimulatedClusterView[]) {}
  set(views: SimulatedClusterView[]): void {
    this.views = views;
  }
  async clusters(): Promise<SimulatedClusterView[]> {
    return structuredClone(this.views);
  }
}
