import { createHash } from 'node:crypto';
import { BadRequestException, UnprocessableEntityException } from '@nestjs/common';
import type { Response } from 'express';

/** The raw-SQL surface of a Prisma transaction client that the idempotency store needs. */
export interface RawSqlClient {
  $queryRawUnsafe<T = unknown>(query: string, ...values: unknown[]): PromiseLike<T>;
  $executeRawUnsafe(query: string, ...values: unknown[]): PromiseLike<number>;
}

/** A Prisma client (or anything) that runs a function in one interactive transaction. */
export interface TransactionRunner<Tx> {
  $transaction<R>(work: (tx: Tx) => Promise<R>): Promise<R>;
  /** Statements outside any explicit transaction (each one atomic by itself), when offered. */
  readonly direct?: Tx;
}

export interface HttpAnswer<B = unknown> {
  status: number;
  body: B;
}

export interface IdempotentAnswer<B = unknown> extends HttpAnswer<B> {
  /** True when this is the stored answer of an earlier request with the same key. */
  replayed: boolean;
}

export interface IdempotentRequest {
  /** The Idempotency-Key header, if the client sent one. */
  key: string | undefined;
  /** What the key is scoped to, e.g. `POST /orders`. */
  scope: string;
  /** The request body: a key reused with a different body is refused. */
  body: unknown;
  /**
   * The work issues exactly one statement (e.g. its row and its outbox row in one data-modifying
   * CTE), which is atomic by itself: without a key it runs on `client.direct`, no BEGIN/COMMIT.
   */
  oneStatement?: boolean;
}

export const IDEMPOTENCY_HEADER = 'Idempotency-Key';
export const IDEMPOTENT_REPLAY_HEADER = 'Idempotent-Replayed';

/** What an Idempotency-Key may be: 1 to 200 visible ASCII characters. The OpenAPI documents say the same. */
export const IDEMPOTENCY_KEY_SCHEMA = {
  type: 'string',
  minLength: 1,
  maxLength: 200,
  pattern: '^[!-~]+$',
} as const;
const IDEMPOTENCY_KEY = new RegExp(IDEMPOTENCY_KEY_SCHEMA.pattern);

/**
 * Runs a request's work in one transaction together with its Idempotency-Key row (table
 * `idempotency_keys`, created by each service's migrations). A repeated key gets the first answer
 * back and nothing is created again; concurrent repeats wait on the row's unique index until the
 * first commits. Work that fails rolls back the key as well, so the client can retry.
 */
export async function runIdempotently<Tx extends RawSqlClient, B>(
  client: TransactionRunner<Tx>,
  request: IdempotentRequest,
  work: (tx: Tx) => Promise<HttpAnswer<B>>,
): Promise<IdempotentAnswer<B>> {
  if (request.key === undefined) {
    const answer =
      request.oneStatement && client.direct
        ? await work(client.direct)
        : await client.$transaction(work);
    return { ...answer, replayed: false };
  }
  const key = checkedKey(request.key);
  const fingerprint = createHash('sha256')
    .update(JSON.stringify(request.body ?? null))
    .digest('hex');
  return client.$transaction(async (tx) => {
    const claimed = await tx.$queryRawUnsafe<unknown[]>(
      `INSERT INTO idempotency_keys (scope, key, request_fingerprint) VALUES ($1, $2, $3)
       ON CONFLICT (scope, key) DO NOTHING RETURNING key`,
      request.scope,
      key,
      fingerprint,
    );
    if (claimed.length === 0) return replay<B>(tx, request.scope, key, fingerprint);
    const answer = await work(tx);
    await tx.$executeRawUnsafe(
      `UPDATE idempotency_keys SET response_status = $3, response_body = $4::jsonb WHERE scope = $1 AND key = $2`,
      request.scope,
      key,
      answer.status,
      JSON.stringify(answer.body ?? null),
    );
    return { ...answer, replayed: false };
  });
}

async function replay<B>(
  tx: RawSqlClient,
  scope: string,
  key: string,
  fingerprint: string,
): Promise<IdempotentAnswer<B>> {
  const [stored] = await tx.$queryRawUnsafe<
    { request_fingerprint: string; response_status: number; response_body: B }[]
  >(
    `SELECT request_fingerprint, response_status, response_body FROM idempotency_keys WHERE scope = $1 AND key = $2`,
    scope,
    key,
  );
  if (!stored) throw new Error(`idempotency key ${key} vanished while being read`);
  if (stored.request_fingerprint !== fingerprint) {
    throw new UnprocessableEntityException(
      `${IDEMPOTENCY_HEADER} "${key}" was already used for a different request body; use a new key for a new request`,
    );
  }
  return { status: stored.response_status, body: stored.response_body, replayed: true };
}

function checkedKey(key: string): string {
  if (key.length > IDEMPOTENCY_KEY_SCHEMA.maxLength || !IDEMPOTENCY_KEY.test(key)) {
    throw new BadRequestException(
      `${IDEMPOTENCY_HEADER} header must be 1 to 200 visible ASCII characters`,
    );
  }
  return key;
}

/** Sends an idempotent answer from a controller using `@Res({ passthrough: true })`. */
export function answerWith<B>(res: Response, answer: IdempotentAnswer<B>): B {
  res.status(answer.status);
  if (answer.replayed) res.setHeader(IDEMPOTENT_REPLAY_HEADER, 'true');
  return answer.body;
}
