/** The markers of the head-to-head's section of BENCHMARKS.md, shared by both writers of that file. */

/** The markers around the section, so that `npm run bench` (the other rows) keeps it. */
export const SECTION_START = '<!-- head-to-head:start (npm run bench -- --peers writes this section) -->';
export const SECTION_END = '<!-- head-to-head:end -->';

/** Puts `section` into BENCHMARKS.md's text: replaces the previous one, or appends it. */
export function spliceSection(text: string, section: string): string {
  const i = text.indexOf(SECTION_START);
  const j = text.indexOf(SECTION_END);
  if (i >= 0 && j > i) return `${text.slice(0, i)}${section}${text.slice(j + SECTION_END.length)}`;
  return `${text.trimEnd()}\n\n${section}\n`;
}

/** The section in BENCHMARKS.md's text, if there is one (so a run of the other benchmarks keeps it). */
export function existingSection(text: string): string | null {
  const i = text.indexOf(SECTION_START);
  const j = text.indexOf(SECTION_END);
  return i >= 0 && j > i ? text.slice(i, j + SECTION_END.length) : null;
}
