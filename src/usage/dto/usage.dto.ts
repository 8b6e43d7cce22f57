import { IsIn, IsOptional, IsString } from 'class-validator';
import { INTERVALS } from '../usage-range';

export class UsageQueryDto {
  /**
   * Start of the range, ISO-8601; a time without a zone is UTC. Default: 90 days before `to`.
   * @example 2021-01-19T00:00:00
   */
  @IsOptional()
  @IsString({ message: 'from must be given once, as an ISO-8601 date' })
  from?: string;

  /**
   * End of the range, ISO-8601; a time without a zone is UTC. Default: now.
   * @example 2021-01-28T23:59:59
   */
  @IsOptional()
  @IsString({ message: 'to must be given once, as an ISO-8601 date' })
  to?: string;

  /** Bucket size. Default: day. */
  @IsOptional()
  @IsIn(INTERVALS, { message: `interval must be one of ${INTERVALS.join(', ')}` })
  @IsString({ message: 'interval must be given once' })
  interval?: (typeof INTERVALS)[number];

  /** json (default) or csv. */
  @IsOptional()
  @IsIn(['json', 'csv'], { message: 'format must be json or csv' })
  @IsString({ message: 'format must be given once' })
  format?: 'json' | 'csv';

  /**
   * `traffic` adds to each bucket `refused` (requests refused by the key's rate limit or quota;
   * not counted as uses) and how the admitted requests were answered: `volumeOut`,
   * `status2xx`..`status5xx`, `latencyMsAvg`, `latencyMsMax` (CSV columns too, in that order).
   * Without it the answer keeps its published shape.
   */
  @IsOptional()
  @IsIn(['traffic'], { message: 'include must be traffic' })
  @IsString({ message: 'include must be given once' })
  include?: 'traffic';
}

export class KeyUsageQueryDto extends UsageQueryDto {
  /** true: the usage of every key this one was rolled from or into, summed. Default false. */
  @IsOptional()
  @IsIn(['true', 'false'], { message: 'lineage must be true or false' })
  @IsString({ message: 'lineage must be given once' })
  lineage?: 'true' | 'false';
}

export class UsagePointDto {
  /** Start of the bucket, UTC. @example 2021-01-19T00:00:00.000Z */
  bucket!: string;
  /** Bytes of request bodies. @example 51253 */
  volume!: number;
  /** Requests. @example 1 */
  count!: number;
  /** Only with include=traffic: requests refused by the key's limits. @example 0 */
  refused?: number;
  /** Only with include=traffic: bytes of the response bodies sent back. @example 1024 */
  volumeOut?: number;
  /** Only with include=traffic: responses with a 2xx status. @example 1 */
  status2xx?: number;
  /** Only with include=traffic: responses with a 3xx status. @example 0 */
  status3xx?: number;
  /** Only with include=traffic: responses with a 4xx status. @example 0 */
  status4xx?: number;
  /** Only with include=traffic: responses with a 5xx status (502 and 504: the upstream failed). @example 0 */
  status5xx?: number;
  /**
   * Only with include=traffic: mean latency in ms (to the µs): in gateway mode until the
   * upstream's response headers; on keymeter's own API from admission to the end of its answer.
   * Null in a bucket with no answers.
   * @example 12.5
   */
  latencyMsAvg?: number | null;
  /** Only with include=traffic: the slowest answer's latency in ms; null with no answers. @example 48.021 */
  latencyMsMax?: number | null;
}

export class UsageResponseDto {
  success!: true;
  results!: UsagePointDto[];
}
