/**
 * The `packed` storage of the sparse format (v2, docs/export.md): a float32
 * tensor's non-zero elements as three MSB-first bit streams, bit-exact,
 * which lie one after the other (gaps, high, low) in the file's `:packed`
 * entry.
 *
 * | stream  | holds, per non-zero element j (row-major order)                       |
 * | ------- | --------------------------------------------------------------------- |
 * | gaps    | g_j = zeros skipped before it, in `gap_bits`-wide codes: M = 2^gap_bits - 1 is an escape ("M more zeros, continue"), a code c < M ends the gap (g_j = M·escapes + c) |
 * | high    | its top 9 bits (sign and exponent) as a `high_bits`-wide index into the layout's `high` table |
 * | low     | its mantissa (low 23 bits) without the `23 - low_bits` trailing bits that are 0 in every value: `low_bits` bits each |
 *
 * Position p_0 = g_0, p_j = p_{j-1} + 1 + g_j; zeros after the last non-zero
 * are not coded. Each stream is ⌈codes · width / 8⌉ bytes, codes packed most
 * significant bit first (as `numpy.packbits`), padding bits 0.
 *
 * Why: the float32 mantissa of a weight is close to random (23 bits that no
 * coder shrinks), but the sign and exponent of the weights of one tensor take
 * few values (2 to 8 after magnitude pruning), and the gaps cost about their
 * entropy with a width fitted per tensor: at 90% sparsity ≈ 23 + 3 + 5 bits
 * per non-zero, against 32 + 8 for values plus uint8 deltas, which gzip -9
 * of the dense file beats. Values with fewer mantissa bits (1.0, BN's
 * initial weights; weights trained in bfloat16) store only those.
 *
 * @example
 * const plan = planPacked(bits); // bits: a Uint32Array view of the float32 tensor
 * const streams = encodePacked(bits, plan);
 * decodePacked(streams, plan, bits.length, fail); // the same bits, -0.0 as +0.0
 */

/** How one tensor is packed; recorded in its layout entry. */
export interface PackedPlan {
  /** Width of a gap code, 1..16. */
  gapBits: number;
  /** Gap codes in the stream (escapes included). */
  gapCodes: number;
  /** The distinct top 9 bits (sign, exponent) of the non-zero elements, increasing. */
  high: number[];
  /** Width of an index into `high`: ⌈log2(high.length)⌉ (0 when one value). */
  highBits: number;
  /** Mantissa bits stored, 0..23: the trailing bits that are 0 in every value are not (all 23 for 1.0, 16 for bfloat16 values). */
  lowBits: number;
  /** Non-zero elements. */
  nonzero: number;
}

export interface PackedStreams {
  gaps: Uint8Array;
  high: Uint8Array;
  low: Uint8Array;
}

export const LOW_BITS = 23;
export const MAX_GAP_BITS = 16;
const LOW_MASK = 0x7fffff;
const SIGN_OFF = 0x7fffffff;

/** Bytes of a stream of `codes` codes of `width` bits. */
export const streamBytes = (codes: number, width: number): number => Math.ceil((codes * width) / 8);

/** Bits needed to index `count` values (0 for one). */
export const indexBits = (count: number): number => (count <= 1 ? 0 : Math.ceil(Math.log2(count)));

/** The gap widths' code counts and the high table of a tensor's bits (zeros are +0.0 or -0.0). */
export function planPacked(bits: Uint32Array): PackedPlan {
  const gaps: number[] = [];
  const high = new Set<number>();
  let lowOr = 0;
  let previous = -1;
  for (let i = 0; i < bits.length; i++) {
    if ((bits[i] & SIGN_OFF) === 0) continue;
    gaps.push(i - previous - 1);
    high.add(bits[i] >>> LOW_BITS);
    lowOr |= bits[i] & LOW_MASK;
    previous = i;
  }
  const nonzero = gaps.length;
  let gapBits = 1;
  let gapCodes = Infinity;
  for (let w = 1; w <= MAX_GAP_BITS; w++) {
    const escape = 2 ** w - 1;
    let codes = nonzero;
    for (const gap of gaps) codes += Math.floor(gap / escape);
    if (codes * w < gapCodes * gapBits) [gapBits, gapCodes] = [w, codes];
  }
  const table = [...high].sort((a, b) => a - b);
  const trailingZeros = lowOr === 0 ? LOW_BITS : 31 - Math.clz32(lowOr & -lowOr);
  return {
    gapBits,
    gapCodes: nonzero === 0 ? 0 : gapCodes,
    high: table,
    highBits: indexBits(table.length),
    lowBits: LOW_BITS - trailingZeros,
    nonzero,
  };
}

/** Data bytes of the three streams. */
export function packedDataBytes(p: PackedPlan): number {
  return streamBytes(p.gapCodes, p.gapBits) + streamBytes(p.nonzero, p.highBits) + streamBytes(p.nonzero, p.lowBits);
}

/** Writes codes MSB first. */
class BitWriter {
  readonly bytes: Uint8Array;
  private bit = 0;
  constructor(bits: number) {
    this.bytes = new Uint8Array(Math.ceil(bits / 8));
  }
  write(value: number, width: number): void {
    for (let b = width - 1; b >= 0; b--, this.bit++) if ((value >>> b) & 1) this.bytes[this.bit >> 3] |= 0x80 >> (this.bit & 7);
  }
}

/** Reads codes MSB first. */
class BitReader {
  private bit = 0;
  constructor(private readonly bytes: Uint8Array) {}
  read(width: number): number {
    let value = 0;
    for (let b = 0; b < width; b++, this.bit++) value = (value << 1) | ((this.bytes[this.bit >> 3] >> (7 - (this.bit & 7))) & 1);
    return value >>> 0;
  }
}

/** The three streams of a tensor's bits, by its plan. */
export function encodePacked(bits: Uint32Array, p: PackedPlan): PackedStreams {
  const gaps = new BitWriter(p.gapCodes * p.gapBits);
  const high = new BitWriter(p.nonzero * p.highBits);
  const low = new BitWriter(p.nonzero * p.lowBits);
  const escape = 2 ** p.gapBits - 1;
  const highIndex = new Map(p.high.map((h, i) => [h, i]));
  let previous = -1;
  for (let i = 0; i < bits.length; i++) {
    if ((bits[i] & SIGN_OFF) === 0) continue;
    let gap = i - previous - 1;
    for (; gap >= escape; gap -= escape) gaps.write(escape, p.gapBits);
    gaps.write(gap, p.gapBits);
    high.write(highIndex.get(bits[i] >>> LOW_BITS)!, p.highBits);
    low.write((bits[i] & LOW_MASK) >>> (LOW_BITS - p.lowBits), p.lowBits);
    previous = i;
  }
  return { gaps: gaps.bytes, high: high.bytes, low: low.bytes };
}

/**
 * The dense bits (`numel` elements, +0.0 where nothing is stored) of three
 * streams whose sizes fit `p` (the caller checks the entries' shapes).
 * `fail` throws; it is called for a gap stream that does not hold exactly
 * `nonzero` gaps, positions past the end, a high index outside the table,
 * a stored zero or non-zero padding bits.
 */
export function decodePacked(s: PackedStreams, p: PackedPlan, numel: number, fail: (problem: string) => never): Uint32Array {
  checkPadding(s.gaps, p.gapCodes * p.gapBits, 'gaps', fail);
  checkPadding(s.high, p.nonzero * p.highBits, 'high', fail);
  checkPadding(s.low, p.nonzero * p.lowBits, 'low', fail);
  const out = new Uint32Array(numel);
  const gaps = new BitReader(s.gaps);
  const high = new BitReader(s.high);
  const low = new BitReader(s.low);
  const escape = 2 ** p.gapBits - 1;
  let position = -1;
  let gap = 0;
  let j = 0;
  for (let c = 0; c < p.gapCodes; c++) {
    const code = gaps.read(p.gapBits);
    gap += code;
    if (code === escape) continue;
    if (j === p.nonzero) fail(`the gap stream holds more than the ${p.nonzero} positions of the values (gap code ${c})`);
    position += gap + 1;
    if (position >= numel) fail(`position ${position} of value ${j} is outside 0..${numel - 1}`);
    const h = high.read(p.highBits);
    if (h >= p.high.length) fail(`high index ${h} of value ${j} is outside the ${p.high.length}-entry high table`);
    const value = ((p.high[h] << LOW_BITS) | (low.read(p.lowBits) << (LOW_BITS - p.lowBits))) >>> 0;
    if ((value & SIGN_OFF) === 0) fail(`value ${j} is zero; zeros are not stored`);
    out[position] = value;
    gap = 0;
    j++;
  }
  if (gap > 0) fail(`the gap stream ends inside a gap (escape codes after the last position)`);
  if (j !== p.nonzero) fail(`the gap stream holds ${j} positions but there are ${p.nonzero} values`);
  return out;
}

function checkPadding(bytes: Uint8Array, bits: number, stream: string, fail: (problem: string) => never): void {
  if (bits % 8 !== 0 && (bytes[bytes.length - 1] & (0xff >> (bits % 8))) !== 0)
    fail(`padding bits after the ${bits} bits of the ${stream} stream are not zero`);
}
