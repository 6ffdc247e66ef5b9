/**
 * The part of an OpenAPI v3 schema object that the reduced Kubernetes schemas keep (see
 * scripts/openapi.mjs): enough to check a value's fields, types and enum values.
 */
export interface OpenApiSchema {
  /** The name of another schema of the same document (reduced from `#/components/schemas/<name>`). */
  $ref?: string;
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  /** `int-or-string`, `int32`, `int64`, `double`, `date-time`, `byte`… */
  format?: string;
  properties?: Record<string, OpenApiSchema>;
  required?: string[];
  items?: OpenApiSchema;
  /** The schema of a map's values (`true`: any value). */
  additionalProperties?: OpenApiSchema | boolean;
  enum?: unknown[];
  oneOf?: OpenApiSchema[];
  'x-kubernetes-preserve-unknown-fields'?: boolean;
}
