import { ArgumentMetadata, PipeTransform } from '@nestjs/common';
import { RequestError } from '../common/coded-error';
import { MAX_JSON_DEPTH, tooDeepMessage, valueDepth } from '../common/json-depth';
import { unstorableTextPath } from '../common/storable-text';

/**
 * Global: every body, query and path value is checked before a controller sees it, so a NUL
 * character anywhere (`{"reason":"a\u0000b"}`) is a 400 naming the field on every route, present
 * and future, instead of a 500 from PostgreSQL.
 */
export class StorableTextPipe implements PipeTransform {
  transform(value: unknown, metadata: ArgumentMetadata): unknown {
    if (metadata.type === 'custom') return value;
    // The JSON parser already counted the text; this holds for whatever else produced the value.
    const depth = valueDepth(value, MAX_JSON_DEPTH);
    if (depth > MAX_JSON_DEPTH) {
      const what = metadata.data ? `${metadata.type} ${metadata.data}` : `the ${metadata.type}`;
      throw new RequestError('INVALID_REQUEST', tooDeepMessage(what, depth), { depth, limit: MAX_JSON_DEPTH, in: metadata.type });
    }
    const path = unstorableTextPath(value);
    if (path) {
      const field = metadata.data ? (path === '(value)' ? metadata.data : `${metadata.data}.${path}`) : path;
      throw new RequestError('INVALID_REQUEST', `${field} holds a NUL character or a lone surrogate, which cannot be stored`, {
        errors: [{ field, message: 'must not contain U+0000 or unpaired surrogates' }],
        in: metadata.type,
      });
    }
    return value;
  }
}
