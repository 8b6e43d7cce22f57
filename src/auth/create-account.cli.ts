import 'reflect-metadata';
import { createInterface } from 'node:readline';
import { BadRequestException } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from '../app.module';
import { validationPipe } from '../common/validation';
import { AccountsService } from './accounts.service';
import { RegisterDto } from './dto/register.dto';

const USAGE =
  'usage: npm run account:create -- EMAIL   (the password on stdin or in KEYMETER_ACCOUNT_PASSWORD)';

/** The password: KEYMETER_ACCOUNT_PASSWORD, else the first line of stdin (typed or piped). */
async function readPassword(): Promise<string> {
  const fromEnv = process.env.KEYMETER_ACCOUNT_PASSWORD;
  if (fromEnv) return fromEnv;
  // Typed at a terminal, the password is shown as it is typed: prefer the variable or a pipe.
  if (process.stdin.isTTY) process.stderr.write('password (shown as typed): ');
  const lines = createInterface({ input: process.stdin, terminal: false });
  try {
    for await (const line of lines) return line;
    return '';
  } finally {
    lines.close();
  }
}

/**
 * `npm run account:create -- EMAIL`: creates an account on the configured database, whatever
 * REGISTRATION says, with the sign-up's own rules, and prints it with its master key as JSON
 * (the key is shown this once). For operators who run with REGISTRATION=closed.
 */
async function main(): Promise<void> {
  const [email, ...rest] = process.argv.slice(2);
  if (!email || rest.length > 0) throw new Error(USAGE);
  const body = (await validationPipe().transform(
    { email, password: await readPassword() },
    { type: 'body', metatype: RegisterDto },
  )) as RegisterDto;
  const app = await NestFactory.createApplicationContext(AppModule, { logger: ['error', 'warn'] });
  try {
    const { account, masterKey } = await app
      .get(AccountsService)
      .createAccount(body.email, body.password);
    console.log(JSON.stringify({ account, masterKey }, null, 2));
  } finally {
    await app.close();
  }
}

main().catch((error: unknown) => {
  const message =
    error instanceof BadRequestException
      ? ([] as string[])
          .concat((error.getResponse() as { message: string | string[] }).message)
          .join('; ')
      : error instanceof Error
        ? error.message
        : String(error);
  console.error(`account:create failed: ${message}`);
  process.exit(1);
});
