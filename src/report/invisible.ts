/**
 * What a reader never sees: escape sequences (colours included) and characters that render as
 * nothing. One definition for the step log (workflow-commands.ts), the job summary and the
 * redaction of secrets (escape.ts).
 *
 * Why it matters: the runner masks a secret by finding its exact characters in a line, and the
 * log viewer then renders escape sequences and drops invisible characters. A secret printed with
 * a colour code (`\e[0m`), a zero-width space, a soft hyphen, a zero-width joiner or a variation
 * selector between two of its characters is not found by the mask, yet reads as the secret on
 * the page. So the text the action writes holds none of them: what the runner masks is what a
 * reader sees. And redaction (`replacerOf`) finds a secret through them, for text that keeps them.
 */

/**
 * Escape sequences: CSI (ESC `[` or C1 0x9B, parameters, one final byte), OSC / DCS / SOS / PM /
 * APC strings (up to BEL or ST, or the end of the line: one left open must not hide the lines
 * after it), the other two-byte ESC sequences, and a lone ESC.
 */
export const ESCAPE_SEQUENCE_SOURCE =
  // eslint-disable-next-line no-control-regex
  /(?:\u001b\[|\u009b)[0-?]*[ -/]*[@-~]|(?:\u001b[\]PX^_]|[\u0090\u0098\u009d\u009e\u009f])[^\r\n]*?(?:\u0007|\u001b\\|\u009c|(?=[\r\n])|$)|\u001b[ -/]*[0-~]|\u001b/.source;

/**
 * One character that renders as nothing: a C0 or C1 control other than tab, line feed and
 * carriage return (line breaks are each caller's business), a Unicode format character
 * (bidirectional overrides, zero-width spaces, the soft hyphen…) or a default-ignorable code
 * point (variation selectors, the Hangul fillers, tags…).
 */
// eslint-disable-next-line no-control-regex
const INVISIBLE_CHAR_SOURCE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]|\p{Cf}|\p{Default_Ignorable_Code_Point}/u.source;

/**
 * The exceptions emoji need: a zero-width joiner between two pictographs (👨‍👩‍👧) and a
 * variation selector 16 after one (❤️). Between letters they are as invisible as the rest.
 */
const EMOJI_GLUE = String.raw`(?<=\p{Extended_Pictographic}(?:\p{Emoji_Modifier}|\ufe0f)?)\u200d(?=\p{Extended_Pictographic})|(?<=\p{Extended_Pictographic})\ufe0f`;

/** Every escape sequence and invisible character, but the emoji glue; line breaks and tabs stay. */
const INVISIBLE = new RegExp(`(?!${EMOJI_GLUE})(?:${ESCAPE_SEQUENCE_SOURCE}|${INVISIBLE_CHAR_SOURCE})`, 'gu');

/**
 * `text` as a reader sees it: escape sequences and invisible characters removed (keeping the
 * zero-width joiners and variation selectors of emoji); tabs and line breaks stay.
 */
export function withoutInvisible(text: string): string {
  // Most text holds nothing invisible: one quick scan instead of the replace (the step log's hot path).
  return hasInvisible(text) ? text.replace(INVISIBLE, '') : text;
}

/** Whether `text` holds anything `withoutInvisible` could remove (a quick test before the slow path). */
export function hasInvisible(text: string): boolean {
  return ANY_INVISIBLE.test(text);
}
// One character class (not an alternation): a scan of plain text stays as fast as a scan can be.
// eslint-disable-next-line no-control-regex
const ANY_INVISIBLE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\p{Cf}\p{Default_Ignorable_Code_Point}]/u;

/** Every escape sequence and invisible character, the emoji glue included (global, Unicode). */
const ANY_INVISIBLE_PIECE = new RegExp(`(?:${ESCAPE_SEQUENCE_SOURCE}|${INVISIBLE_CHAR_SOURCE})`, 'gu');

/**
 * `text` with every escape sequence and invisible character removed (emoji glue too), and where
 * each of its UTF-16 units was in `text`: what a search for a secret "through" them needs. One
 * pass over the text, whatever the number of secrets then looked for.
 */
export function visibleWithOffsets(text: string): { visible: string; at: Int32Array } {
  const at = new Int32Array(text.length);
  let visible = '';
  let n = 0;
  let from = 0;
  const keep = (end: number): void => {
    visible += text.slice(from, end);
    for (let i = from; i < end; i++) at[n++] = i;
  };
  for (const m of text.matchAll(ANY_INVISIBLE_PIECE)) {
    keep(m.index);
    from = m.index + m[0].length;
  }
  keep(text.length);
  return { visible, at: at.subarray(0, n) };
}

/** `text` without any escape sequence or invisible character, the emoji glue included. */
export function withoutAnyInvisible(text: string): string {
  return hasInvisible(text) ? text.replace(ANY_INVISIBLE_PIECE, '') : text;
}
