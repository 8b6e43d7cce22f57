import type { OpenAPIObject } from '@nestjs/swagger';

const ERROR_SCHEMA = {
  type: 'object',
  required: ['success', 'statusCode', 'error', 'message'],
  properties: {
    success: { type: 'boolean', enum: [false] },
    statusCode: { type: 'integer', example: 400 },
    error: { type: 'string', example: 'Bad Request' },
    message: {
      oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
      example: 'from must be before to',
    },
  },
};

/**
 * Every error keymeter returns has the one envelope; rather than repeat it on each decorator,
 * it is attached here to every 4xx/5xx response of the document that has no body of its own.
 */
export function documentErrorEnvelope(document: OpenAPIObject): OpenAPIObject {
  document.components ??= {};
  document.components.schemas ??= {};
  document.components.schemas.ErrorEnvelope = ERROR_SCHEMA as never;
  for (const operations of Object.values(document.paths)) {
    for (const operation of Object.values(operations) as { responses?: Record<string, object> }[]) {
      for (const [code, response] of Object.entries(operation.responses ?? {})) {
        if (Number(code) >= 400 && !('content' in response)) {
          Object.assign(response, {
            content: {
              'application/json': { schema: { $ref: '#/components/schemas/ErrorEnvelope' } },
            },
          });
        }
      }
    }
  }
  return document;
}
