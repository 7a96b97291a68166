import { PipeTransform } from '@nestjs/common';
import Ajv, { ValidateFunction } from 'ajv';
import { RequestError } from '../common/coded-error';
import { describeAjvError, pointerToPath } from '../runbooks/runbook-loader';

const ajv = new Ajv({ allErrors: true, strict: false });

/** Validates a request body against a JSON Schema; a mismatch is a 400 naming each bad field. */
export class JsonSchemaPipe<T> implements PipeTransform<unknown, T> {
  private readonly validate: ValidateFunction;

  /** `optional`: no body at all (no Content-Type, empty) is read as `{}`. */
  constructor(
    schema: object,
    private readonly opts: { optional?: boolean } = {},
  ) {
    this.validate = ajv.compile(schema);
  }

  transform(value: unknown): T {
    if (this.opts.optional && (value === undefined || value === null)) value = {};
    if (value === undefined || value === null || typeof value !== 'object') {
      throw new RequestError('INVALID_REQUEST', 'the body must be a JSON object (Content-Type: application/json)');
    }
    if (!this.validate(value)) {
      const errors = (this.validate.errors ?? []).map((e) => {
        const p = e.params as Record<string, unknown>;
        const extra = p.missingProperty ?? p.additionalProperty;
        return { field: [pointerToPath(e.instancePath), extra].filter(Boolean).join('.') || '(body)', message: describeAjvError(e) };
      });
      throw new RequestError('INVALID_REQUEST', `invalid body: ${errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`, { errors });
    }
    return value as T;
  }
}
