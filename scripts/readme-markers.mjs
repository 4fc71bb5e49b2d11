// Generated blocks in Markdown files: the text between <!-- NAME:begin --> and <!-- NAME:end -->.

/** `text` with the block between NAME's markers replaced by `block`; throws when they are missing. */
export function replaceBetweenMarkers(text, block, where, name) {
  const BEGIN = `<!-- ${name}:begin -->`;
  const END = `<!-- ${name}:end -->`;
  const begin = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  if (begin < 0 || end < 0 || end < begin)
    throw new Error(
      `${where}: expected the markers ${BEGIN} and ${END}, in that order, around the table to ` +
        `replace (found ${begin < 0 ? 'no' : 'a'} begin marker, ${end < 0 ? 'no' : 'an'} end marker)`,
    );
  return `${text.slice(0, begin + BEGIN.length)}\n${block}\n${text.slice(end)}`;
}
