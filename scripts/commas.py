#!/usr/bin/env python3
"""commas.py -- finds statements chained with the comma operator in C files.

usage: scripts/commas.py [-I DIR]... FILE.c...

`return refuse(...), -1;`, `a = x, b = y;`, `free(a), free(b);` (as a statement, a return
value, or an if/else/while/do/for body) hide a second statement and often a missing pair of
braces; say them as separate statements instead. A for loop's header and a comma inside an
expression that is used (an argument, a condition) are not statements and are left alone.

Reads clang's AST (clang -Xclang -ast-dump), so a comma inside a string, a declaration
(`int a, b;`) or an initializer is never mistaken for one. Prints file:line: and exits 1
when it finds any; exits 0 otherwise.
"""
import re
import subprocess
import sys

LOC = re.compile(r'(?:([\w./+-]+\.[ch]):(\d+):\d+|line:(\d+):\d+|col:\d+)')
NODE = re.compile(r'^([ |`-]*)(<<<NULL>>>|\w+)')
# The parent statement kinds whose child at this index is a statement, not an expression
# whose value is used (an if's condition is child 0, a do's body child 0, a for's body 4).
BODY = {'IfStmt': lambda i: i > 0, 'WhileStmt': lambda i: i > 0,
        'DoStmt': lambda i: i == 0, 'ForStmt': lambda i: i == 4}
BLOCK = {'CompoundStmt', 'CaseStmt', 'DefaultStmt', 'LabelStmt'}


def statement_position(chain, i):
    """1 when chain[i] (an expression) stands where a statement does."""
    parent = chain[i - 1] if i > 0 else None
    if parent is None:
        return False
    kind, index = parent[1], chain[i][3]
    if kind in BLOCK or (kind in BODY and BODY[kind](index)):
        return True
    if kind == 'ReturnStmt':
        return True
    return False


def check(path, flags):
    dump = subprocess.run(['clang'] + flags + ['-Xclang', '-ast-dump', '-fsyntax-only', path],
                          capture_output=True, text=True)
    if dump.returncode != 0:
        sys.stderr.write(dump.stderr)
        return [path + ':0: clang could not parse the file']
    found, here, line, stack = [], None, 0, []
    for raw in dump.stdout.splitlines():
        m = NODE.match(raw)
        if not m:
            continue
        depth, kind = len(m.group(1)), m.group(2)
        start = None
        for lm in LOC.finditer(raw):  # each location is relative to the one printed before
            if lm.group(1):
                here, line = lm.group(1), int(lm.group(2))
            elif lm.group(3):
                line = int(lm.group(3))
            start = start or (here, line)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        index = 0
        if stack:
            index = stack[-1][2]
            stack[-1][2] += 1
        node = [depth, kind, 0, index]
        chain = stack + [node]
        stack.append(node)
        if kind != 'BinaryOperator' or not raw.rstrip().endswith("','"):
            continue
        i = len(chain) - 1
        while i > 0 and chain[i - 1][1] in ('ImplicitCastExpr', 'ParenExpr'):
            i -= 1
        if start and start[0] == path and statement_position(chain, i):
            found.append('%s:%d: statements chained with a comma' % start)
    return sorted(set(found), key=lambda s: int(s.split(':')[1]))


def main(argv):
    flags, files, i = ['-std=c11', '-D_GNU_SOURCE', '-DH2O_USE_LIBUV=0'], [], 0
    while i < len(argv):
        if argv[i] == '-I':
            flags.append('-I' + argv[i + 1])
            i += 2
        elif argv[i].startswith('-'):  # -I, -D and the rest of pkg-config --cflags
            flags.append(argv[i])
            i += 1
        else:
            files.append(argv[i])
            i += 1
    bad = [f for path in files for f in check(path, flags)]
    for b in bad:
        print(b)
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
