import type { Benchmark } from '../lib/benchmark';
import { apiEconomy } from './api-economy';
import { applyLatency } from './apply-latency';
import { azAffinity } from './az-affinity';
import { balance } from './balance';
import { checkCost } from './check-cost';
import { failover } from './failover';
import { hitlessChange } from './hitless-change';
import { hostLoad } from './host-load';
import { orchestratorScale } from './orchestrator-scale';
import { pooling } from './pooling';
import { registryCeiling } from './registry-ceiling';
import { slowStart } from './slow-start';
import { tlsCost } from './tls-cost';
import { writerFailover } from './writer-failover';

/** Every benchmark, in figure order; `npm run bench -- <name>` picks one by name. */
export const benchmarks: Benchmark[] = [
  checkCost,
  hostLoad,
  failover,
  hitlessChange,
  balance,
  apiEconomy,
  orchestratorScale,
  applyLatency,
  registryCeiling,
  azAffinity,
  pooling,
  slowStart,
  tlsCost,
  writerFailover,
];
