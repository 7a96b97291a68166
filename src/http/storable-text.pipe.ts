import { ArgumentMetadata, PipeTransform } from '@nestjs/common';
import { RequestError } from '../common/coded-error';
import { unstorableTextPath } from '../common/storable-text';

/**
 * Global: every body, query and path value is checked before a controller sees it, so a NUL
 * character anywhere (`{"reason":"a\u0000b"}`) is a 400 naming the field on every route, present
 * and future, instead of a 500 from PostgreSQL.
 */
export class StorableTextPipe implements PipeTransform {
  transform(value: unknown, metadata: ArgumentMetadata): unknown {
    if (metadata.type === 'custom') return value;
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
