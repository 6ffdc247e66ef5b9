/** The public API of the spec layer: YAML → validated DagSpec, params, templates, expressions. */
export type * from './types.ts';
export { parseSpec, formatPath } from './parse.ts';
export { loadSpec, SpecFileError } from './load.ts';
export { resolveParams } from './params.ts';
export { findTemplateRefs, renderTemplate, TemplateError, type TemplateContext, type TemplateMatch, type TemplateRef } from './template.ts';
export { parseExpression, parseCondition, exprRefs, callsStatusFunction, formatExpr, ExpressionError, STATUS_FUNCTIONS } from './expression.ts';
export { findCycle, topologicalOrder, upstreamOf, reachability, type GraphNode } from './graph.ts';
export { parseDuration, formatDuration } from './duration.ts';
export { specSchema } from './schema.ts';
export { nameProblem, fixName, MAX_NAME_LENGTH } from './names.ts';
export { templateProblems } from './prerender.ts';
