#!/usr/bin/env python3
"""The naming rule of include/consentgate/ (docs/architecture.md#code-layout):
every name a header declares at file scope starts with cg_ (functions,
variables, struct, enum and typedef names) or CG_ (macros, enum constants);
a function's first word after cg_ is one of its header's nouns: the module
(the header's name), a type the header defines (struct cg_head: cg_head_*),
or one NOUNS lists below for the header; and no name is declared by two
headers. Prints every name that breaks it."""
import os
import re
import sys

# the nouns a header names beyond its module and its types: each entry is
# a thing the module is about, written once here
NOUNS = {
    'cfgfile': {'config', 'file'},
    'collect': {'client', 'payload', 'ga4'},
    'config': {'destination'},
    'consent': {'page'},
    'decision': {'state', 'choice', 'consent', 'decide', 'backoff'},
    'erasure': {'dest'},
    'err': {'strerror'},
    'event': {'purpose', 'action', 'objections', 'tri'},
    'export': {'state', 'receipt', 'event'},
    'fcgiscan': {'fcgi'},
    'handler': {'answer', 'response', 'handle', 'status', 'route'},
    'id': {'sha256'},
    'logevent': {'ids'},
    'outfile': {'out'},
    'report': {'outcome', 'period', 'format'},
    'rules': {'retention'},
    'shown': {'banner', 'notice', 'build'},
    'shownfile': {'shown'},
    'sign': {'signer', 'key', 'keys', 'receipt', 'envelope', 'signed'},
    'storage': {'outbox', 'store'},
    'store_pg': {'pg'},
    'store_sqlite': {'sqlite'},
    'timefmt': {'time', 'day'},
    'transfer': {'country'},
    'vendor': {'catalogue', 'csp', 'vendors'},
}

FUNC = re.compile(r'\b([A-Za-z_][A-Za-z0-9_]*)\s*\(')
TYPE = re.compile(r'\b(?:struct|enum|union)\s+([A-Za-z_][A-Za-z0-9_]*)\s*\{')
FPTR = re.compile(r'\(\s*\*\s*([A-Za-z_]\w*)\s*\)')
MACRO = re.compile(r'^#\s*define\s+([A-Za-z_]\w*)', re.M)
ENUMC = re.compile(r'\benum\b[^{;]*\{([^}]*)\}', re.S)


def strip(text):
    text = re.sub(r'/\*.*?\*/', ' ', text, flags=re.S)
    return re.sub(r'//[^\n]*', ' ', text)


def top_level(text):
    """The file-scope statements (what ends in ; or a body at depth 0)."""
    out, depth, cur = [], 0, []
    for line in text.split('\n'):
        if line.lstrip().startswith('#'):
            continue
        for ch in line + '\n':
            cur.append(ch)
            if ch == '{':
                depth += 1
            elif ch == '}':
                depth -= 1
                if depth == 0 and re.match(r'\s*(static\s+inline|[a-z_][\w\s\*]*\()', ''.join(cur)):
                    out.append(''.join(cur))
                    cur = []
            elif ch == ';' and depth == 0:
                out.append(''.join(cur))
                cur = []
    return out


def check(path, module, seen, bad):
    with open(path, encoding='utf-8') as fh:
        raw = fh.read()
    text = strip(raw)
    types = set(TYPE.findall(text))
    nouns = {module} | {t[3:] for t in types if t.startswith('cg_')} | NOUNS.get(module, set())
    names = []
    for m in MACRO.findall(text):
        # include guards; cg_info(...) and its kind read as the functions they stand for
        if not m.startswith(('CG_', 'CONSENTGATE_', 'cg_')):
            bad.append('%s: macro %s: not CG_' % (path, m))
    for body in ENUMC.findall(text):
        for c in re.findall(r'(?:^|,)\s*([A-Za-z_]\w*)', body):
            if not c.startswith('CG_'):
                bad.append('%s: enum constant %s: not CG_' % (path, c))
    for t in types:
        if not t.startswith('cg_'):
            bad.append('%s: type %s: not cg_' % (path, t))
    for st in top_level(text):
        s = st.strip()
        if s.startswith('typedef'):
            m = FPTR.search(s) or FUNC.search(s.split('{')[0] if '{' not in s else s.rsplit('}', 1)[1]) \
                or re.search(r'([A-Za-z_]\w*)\s*(?:\[[^\]]*\])*\s*;\s*$', s)
            if m:
                names.append(('typedef', m.group(1)))
            continue
        if re.match(r'(struct|enum|union)\s+\w+\s*\{', s) or re.match(r'(struct|enum|union)\s+\w+\s*;', s):
            continue
        body = s.split('{', 1)[0]
        f = FUNC.search(body)
        if FPTR.search(body):
            names.append(('variable', FPTR.search(body).group(1)))
        elif f:
            names.append(('function', f.group(1)))
        else:
            v = re.findall(r'([A-Za-z_]\w*)\s*(?:\[[^\]]*\])*\s*(?:=[^;]*)?;', s)
            if v:
                names.append(('variable', v[-1]))
    for kind, name in names:
        if not name.startswith('cg_'):
            bad.append('%s: %s %s: not cg_' % (path, kind, name))
        elif kind == 'function' and name[3:].split('_')[0] not in nouns and name[3:] not in nouns:
            bad.append('%s: function %s: cg_%s_ is none of its nouns (%s)'
                       % (path, name, name[3:].split('_')[0], ', '.join(sorted(nouns))))
        if name in seen and seen[name] != path:
            bad.append('%s: %s %s: declared in %s too' % (path, kind, name, seen[name]))
        seen.setdefault(name, path)


def main():
    inc = os.path.join(sys.argv[1] if len(sys.argv) > 1 else '.', 'include', 'consentgate')
    seen, bad = {}, []
    for h in sorted(os.listdir(inc)):
        if h.endswith('.h'):
            check(os.path.join(inc, h), h[:-2], seen, bad)
    for b in bad:
        print(b)
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
