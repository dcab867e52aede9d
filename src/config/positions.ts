import yaml from 'js-yaml';

/** Where each key (or list item) of a YAML document starts: path -> 1-based line and column. */
export type Positions = Map<string, { line: number; column: number; offset: number }>;

interface YamlNode {
  start: number;
  kind?: string;
  result?: unknown;
  children: YamlNode[];
}

export const pathKey = (path: readonly PropertyKey[]) => path.map(String).join('\u0000');

/** Reads the positions from js-yaml's parse events: a mapping's children alternate key and value nodes. */
export function yamlPositions(text: string): Positions {
  const root: YamlNode = { start: 0, children: [] };
  const stack: YamlNode[] = [root];
  try {
    yaml.load(text, {
      listener(event, state) {
        if (event === 'open') {
          const node: YamlNode = { start: state.position, children: [] };
          stack.at(-1)!.children.push(node);
          stack.push(node);
        } else {
          const node = stack.pop()!;
          node.kind = state.kind ?? undefined;
          node.result = state.result;
        }
      },
    });
  } catch {
    // A syntax error is reported by the loader itself.
  }
  const lineStarts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === '\n') lineStarts.push(i + 1);
  const at = (offset: number) => {
    // Values open just after their ':'; the token itself starts at the next non-blank.
    while (offset < text.length && (text[offset] === ' ' || text[offset] === '\t')) offset++;
    let lo = 0;
    while (lo + 1 < lineStarts.length && lineStarts[lo + 1] <= offset) lo++;
    return { line: lo + 1, column: offset - lineStarts[lo] + 1, offset };
  };
  const positions: Positions = new Map();
  const walk = (node: YamlNode, path: PropertyKey[]) => {
    if (node.kind === 'mapping') {
      for (let i = 0; i + 1 < node.children.length; i += 2) {
        const key = node.children[i];
        const childPath = [...path, String(key.result)];
        positions.set(pathKey(childPath), at(key.start));
        walk(node.children[i + 1], childPath);
      }
    } else if (node.kind === 'sequence') {
      node.children.forEach((item, i) => {
        positions.set(pathKey([...path, i]), at(item.start));
        walk(item, [...path, i]);
      });
    }
  };
  if (root.children[0]) walk(root.children[0], []);
  return positions;
}

/** The position of a path, or of its nearest ancestor that is in the file (a missing key: where it belongs). */
export function positionOf(positions: Positions, path: readonly PropertyKey[]) {
  for (let n = path.length; n > 0; n--) {
    const found = positions.get(pathKey(path.slice(0, n)));
    if (found) return found;
  }
  return undefined;
}
