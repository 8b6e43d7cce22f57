import { BadRequestException, ValidationError, ValidationPipe } from '@nestjs/common';

function flatten(errors: ValidationError[], parent = ''): string[] {
  return errors.flatMap((error) => {
    const path = parent ? `${parent}.${error.property}` : error.property;
    const own = Object.values(error.constraints ?? {}).map((message) =>
      // class-validator names the property itself; nested ones get their full path.
      parent ? `${path}: ${message}` : message,
    );
    return [...own, ...flatten(error.children ?? [], path)];
  });
}

/**
 * The one way a body, query or param is checked: unknown fields refused, values transformed
 * to their DTO, one message per bad field. The app's global pipe and the guards that must read
 * a body before the handler's pipes run (PasswordAccountGuard) both use it, so they agree.
 */
export function validationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    // One message per bad field: the first rule it breaks is the one to fix.
    stopAtFirstError: true,
    exceptionFactory: (errors) => new BadRequestException(flatten(errors)),
  });
}
