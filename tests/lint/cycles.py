#!/usr/bin/env python3
"""No file cycles inside a folder of src/: reads each .c file's #include "..."
lines, the functions the included headers declare, and the file that defines
each of them. A.c -> B.c when A.c includes a header of its folder (or of
include/) and calls a function that B.c defines; a cycle (A -> B -> ... -> A)
means no file of it can be read, tested or moved without the others, which is
what a shared helper in a file of its own avoids. Prints every cycle."""
import os
import re
import sys

DEF = re.compile(r'^[a-z][^;(]*?\b([a-z_][a-z0-9_]*)\s*\([^;]*$')
CALL = re.compile(r'\b([a-z_][a-z0-9_]*)\s*\(')
INCL = re.compile(r'^#\s*include\s+"([^"]+)"', re.M)
INCLUDE = 'include'


def strip(text):
    """Comments and string literals out, so only code is read."""
    text = re.sub(r'/\*.*?\*/', ' ', text, flags=re.S)
    text = re.sub(r'//[^\n]*', ' ', text)
    return re.sub(r'"(\\.|[^"\\\n])*"', '""', text)


def defined(text):
    """Functions defined at file scope, not static."""
    out = set()
    for line in text.split('\n'):
        if line.startswith('static') or line.startswith('typedef'):
            continue
        m = DEF.match(line)
        if m and not line.rstrip().endswith(';'):
            out.add(m.group(1))
    return out


def folder_graph(folder):
    files = sorted(f for f in os.listdir(folder) if f.endswith('.c'))
    texts, declared = {}, {}
    for f in files:
        with open(os.path.join(folder, f), encoding='utf-8') as fh:
            raw = fh.read()
        texts[f] = strip(raw)
        declared[f] = set()
        for h in INCL.findall(raw):
            for d in (folder, INCLUDE):
                if os.path.isfile(os.path.join(d, h)):
                    with open(os.path.join(d, h), encoding='utf-8') as fh:
                        declared[f] |= set(CALL.findall(strip(fh.read())))
                    break
    owner = {}
    for f in files:
        for name in defined(texts[f]):
            owner.setdefault(name, f)
    graph = {f: set() for f in files}
    for f in files:
        mine = defined(texts[f])
        for name in (set(CALL.findall(texts[f])) & declared[f]) - mine:
            g = owner.get(name)
            if g and g != f:
                graph[f].add(g)
    return graph


def cycles(graph):
    """Strongly connected components of more than one file (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def main():
    global INCLUDE
    top = sys.argv[1] if len(sys.argv) > 1 else '.'
    INCLUDE = os.path.join(top, 'include')
    src = os.path.join(top, 'src')
    bad = 0
    for root, _dirs, names in sorted(os.walk(src)):
        if not any(n.endswith('.c') for n in names):
            continue
        for comp in cycles(folder_graph(root)):
            print('%s: cycle: %s' % (os.path.relpath(root, os.path.dirname(src)), ' <-> '.join(comp)))
            bad = 1
    return bad


if __name__ == '__main__':
    sys.exit(main())
