/**
 * Exact byte budgets of responses and pushes: the shared wire arithmetic of `protocol/budget.ts`
 * (kept under this name for the agent's modules).
 */
export { cborHeadLength } from '../../protocol/cbor.js';
export { fitWithin } from '../../protocol/budget.js';
