/**
 * Offsets in a spec's text → the 1-based line and column a user sees. A column counts
 * characters (Unicode code points) from the start of the line, as a reader counts them: an emoji
 * or a CJK character is one column, not the two UTF-16 code units a JavaScript string holds for an
 * emoji, nor the three or four bytes UTF-8 takes. A tab is one column. A UTF-8 byte order mark at
 * the start of the file is no column: editors do not show it.
 */

/** Where each line starts and where the astral characters are, to turn offsets into positions. */
export class TextPositions {
  readonly #lineStarts: number[] = [0];
  /** Offsets of the high surrogate of each astral character (two code units, one column). */
  readonly #astral: number[] = [];
  readonly #bom: boolean;

  constructor(text: string) {
    this.#bom = text.charCodeAt(0) === 0xfeff;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 0x0a) this.#lineStarts.push(i + 1);
      else if (c >= 0xd800 && c <= 0xdbff) {
        const next = text.charCodeAt(i + 1);
        if (next >= 0xdc00 && next <= 0xdfff) {
          this.#astral.push(i);
          i++;
        }
      }
    }
  }

  /** The line and column of the character at `offset` (a UTF-16 index into the text). */
  at(offset: number): { line: number; col: number } {
    const line = upperBound(this.#lineStarts, offset);
    const start = this.#lineStarts[line - 1]!;
    // Each astral character before `offset` on this line took two code units for one column.
    const pairs = lowerBound(this.#astral, offset) - lowerBound(this.#astral, start);
    const bom = this.#bom && start === 0 && offset > 0 ? 1 : 0;
    return { line, col: offset - start - pairs - bom + 1 };
  }
}

/** The position just after `text` (where a problem at the end of `text` is): for one-off uses. */
export function positionAfter(text: string): { line: number; col: number } {
  return new TextPositions(text).at(text.length);
}

/** The number of items of sorted `list` that are <= `value`. */
function upperBound(list: number[], value: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]! <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The number of items of sorted `list` that are < `value`. */
function lowerBound(list: number[], value: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
