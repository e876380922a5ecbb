#!/usr/bin/env python3
"""Finds import cycles between the files of each crate of the workspace.

File A depends on file B when A names an item that B defines: through a `use`
or a path written out in the code (`crate::visits::find_visit(...)`,
`super::Segments`, `fields::date(...)`), resolved module by module and through
re-exports (`pub use`, globs included) to the file that defines the item. A
re-export is not a use of its own, and `mod` declarations are not imports, so
a parent that only declares and re-exports its children does not depend on
them. Prints each cycle (files that depend on each other, directly or through
others) and exits 1 if there is one.

Usage: scripts/import-cycles.py [CRATE_DIR ...] (default: every crate).
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ITEM = re.compile(
    r'^\s*(?:pub(?:\([^)]*\))?\s+)?(?:async\s+|const\s+|unsafe\s+)*'
    r'(?:fn|struct|enum|trait|type|const|static|union|macro_rules!)\s+(\w+)', re.M)
MACRO_ITEMS = re.compile(r'^\s*(?:pub\s+)?enum\s+(\w+)|^\s*(\w+)\s*\{', re.M)


def crates(dirs):
    """(name, root file) of every library and binary crate below `dirs`."""
    for crate in dirs:
        src = os.path.join(crate, 'src')
        for top in ('lib.rs', 'main.rs'):
            if os.path.isfile(os.path.join(src, top)):
                yield os.path.relpath(os.path.join(src, top), ROOT), os.path.join(src, top)


def strip(text):
    text = re.sub(r'//[^\n]*', '', text)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    return re.sub(r'#\[cfg\(test\)\]\s*mod\s+tests\s*\{.*', '', text, flags=re.S)


def module_files(root):
    """module path (tuple) -> (file, stripped text), from the crate root down."""
    files = {}

    def walk(path, file):
        text = strip(open(file, encoding='utf-8').read())
        files[path] = (file, text)
        here = os.path.dirname(file)
        base = os.path.splitext(os.path.basename(file))[0]
        if base not in ('lib', 'main', 'mod'):
            here = os.path.join(here, base)
        for name in re.findall(r'^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;', text, re.M):
            for candidate in (os.path.join(here, name + '.rs'), os.path.join(here, name, 'mod.rs')):
                if os.path.isfile(candidate):
                    walk(path + (name,), candidate)
                    break

    walk((), root)
    return files


def expand(body):
    match = re.match(r'^(.*?)\{(.*)\}$', body)
    if not match:
        yield body
        return
    prefix, inner = match.groups()
    depth, part, parts = 0, '', []
    for ch in inner:
        if ch == ',' and depth == 0:
            parts.append(part)
            part = ''
            continue
        depth += ch == '{'
        depth -= ch == '}'
        part += ch
    parts.append(part)
    for p in parts:
        if p:
            yield from expand(prefix + p)


def uses(text):
    """(path, alias, is_reexport) of every `use` in the text."""
    for vis, body in re.findall(r'(?:^|\n)\s*(pub(?:\([^)]*\))?\s+)?use\s+([^;]+);', text):
        body = re.sub(r'\s*([:,{}])\s*', r'\1', re.sub(r'\s+', ' ', body.strip()))
        for path in expand(body):
            path, _, alias = path.partition(' as ')
            alias = alias or path.split('::')[-1]
            yield path, alias, bool(vis)


class Crate:
    def __init__(self, root):
        self.files = module_files(root)
        self.defined = {m: set(ITEM.findall(t)) for m, (_, t) in self.files.items()}
        # Items that macros in the file declare (the events! list, code lists).
        for m, (_, text) in self.files.items():
            for call in re.findall(r'\w+!\s*\{(.*?)\n\}', text, re.S):
                self.defined[m].update(n for pair in MACRO_ITEMS.findall(call) for n in pair if n)
        self.reexports = {m: [(p, a) for p, a, pub in uses(t) if pub] for m, (_, t) in self.files.items()}
        self.imports = {m: {a: p for p, a, _ in uses(t) if a != '*'} for m, (_, t) in self.files.items()}

    def start(self, segments, here):
        """The module a path starts from, and the rest of the path."""
        first = segments[0]
        if first == 'crate':
            return (), segments[1:]
        if first in ('super', 'self'):
            current, rest = here, segments
            while rest and rest[0] in ('super', 'self'):
                current = current[:-1] if rest[0] == 'super' else current
                rest = rest[1:]
            return current, rest
        if here + (first,) in self.files:
            return here, segments
        if first in self.imports.get(here, {}):
            imported = self.imports[here][first].split('::')
            return self.start(imported + segments[1:], here) if imported[0] != first else (None, None)
        return None, None

    def resolve(self, path, here, seen=None):
        """The module defining what `path` names from module `here` (None: outside the crate)."""
        seen = seen or set()
        if (path, here) in seen:
            return None
        seen.add((path, here))
        current, rest = self.start(path.split('::'), here)
        if current is None:
            return None
        for i, name in enumerate(rest):
            if current + (name,) in self.files:
                current = current + (name,)
                continue
            if name in self.defined.get(current, ()):
                return current
            for target, alias in self.reexports.get(current, ()):
                if alias == name:
                    return self.resolve(target + '::' + '::'.join(rest[i + 1:]) if i + 1 < len(rest) else target, current, seen)
                if alias == '*':
                    module, _ = self.start(target.split('::'), current)
                    if module is not None:
                        found = self.resolve('::'.join(('self',) + tuple(rest[i:])), module, seen) \
                            if module in self.files else None
                        if found is not None:
                            return found
            return current
        return current

    def graph(self):
        edges = {}
        for module, (file, text) in self.files.items():
            targets = set()
            names = [p for p, _, pub in uses(text) if not pub and not p.endswith('*')]
            names += [p[:-3] for p, _, pub in uses(text) if not pub and p.endswith('::*')]
            code = re.sub(r'(?:^|\n)\s*(?:pub(?:\([^)]*\))?\s+)?use\s+[^;]+;', '\n', text)
            names += re.findall(r'(?<![:\w])\w+(?:::\w+)+', code)
            for path in names:
                target = self.resolve(path, module)
                if target is not None and target != module:
                    targets.add(self.files[target][0])
            edges[file] = targets
        return edges


def cycles(edges):
    found, index, low, stack, on, counter = [], {}, {}, [], set(), [0]

    def connect(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10000)
    for v in list(edges):
        if v not in index:
            connect(v)
    return found


def main():
    dirs = [os.path.abspath(d) for d in sys.argv[1:]]
    if not dirs:
        dirs = [os.path.join(ROOT, d) for d in sorted(os.listdir(ROOT))
                if os.path.isfile(os.path.join(ROOT, d, 'Cargo.toml'))] + [ROOT]
    total = 0
    roots = list(crates(dirs))
    for name, root in roots:
        for component in cycles(Crate(root).graph()):
            total += 1
            print('cycle: ' + ' <-> '.join(os.path.relpath(f, ROOT) for f in component))
    print(f'{total} import cycle(s) in {len(roots)} crate(s)')
    return 1 if total else 0


if __name__ == '__main__':
    sys.exit(main())
