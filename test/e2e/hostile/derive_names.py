#!/usr/bin/env python3
"""derive_names.py: every name the owner-rights SQL of automation resolves.

Usage: derive_names.py TOP   (the source tree)

Reads the SQL the extension runs with its owner's (or a definition creator's)
rights -- the string literals of src/*.c (the trigger, cache loads, breaker
rebuild, explain's predictions, _execute_as) and the function bodies of
src/sql/install/*.sql (SECURITY DEFINER functions and what they call) -- and
prints four lines, each a space-separated list:

    functions  identifiers followed by '(' (and the functions behind SQL
               syntax: AT TIME ZONE -> timezone, ...)
    types      names after '::' or in CAST(... AS name), plus the types the
               database actions cast to (format_type names)
    operators  operator tokens, plus the operators behind SQL syntax
               (IN/ANY/IS DISTINCT FROM/NULLIF/CASE -> '=', LIKE -> '~~', ...)
    relations  unqualified relation names after FROM/JOIN/INTO/UPDATE

The hostile-role suite plants a look-alike for every name (hostile/lib.sql
keeps only the names pg_catalog really has), so a query added later cannot
escape the sweep.
"""
import glob
import os
import re
import sys

top = sys.argv[1] if len(sys.argv) > 1 else "."
texts = []
lit = re.compile(r'"((?:[^"\\\n]|\\.)*)"')
for path in sorted(glob.glob(os.path.join(top, "src", "*.c"))):
    with open(path, encoding="utf-8", errors="replace") as f:
        src = f.read()
    # drop comments, keep string literals (adjacent ones joined by a space)
    src = re.sub(r"/\*.*?\*/", " ", src, flags=re.S)
    src = re.sub(r"//[^\n]*", " ", src)
    texts.append(" ".join(m.group(1).replace('\\"', '"').replace("\\n", " ")
                          for m in lit.finditer(src)))
for path in sorted(glob.glob(os.path.join(top, "src", "sql", "install", "*.sql"))):
    with open(path, encoding="utf-8", errors="replace") as f:
        src = f.read()
    src = re.sub(r"/\*.*?\*/", " ", src, flags=re.S)
    src = re.sub(r"--[^\n]*", " ", src)
    texts.append(src)
sql = "\n".join(texts)
low = sql.lower()

ident = r"[a-z_][a-z0-9_]*"
functions = set(re.findall(r"(?<![.a-z0-9_$%])(" + ident + r")\s*\(", low))
types = set(re.findall(r"::\s*(?:pg_catalog\.)?(" + ident + r")", low))
types |= set(re.findall(r"\bcast\s*\(.*?\bas\s+(?:pg_catalog\.)?(" + ident + r")", low))
# the casts the database actions build from format_type() of the target
# columns, and the usual spellings of the column types
types |= {"text", "uuid", "jsonb", "json", "int4", "int8", "int2", "bool", "numeric",
          "timestamptz", "timestamp", "date", "name", "oid", "regclass", "varchar",
          "float8", "interval", "citext", "bpchar"}
opchars = r"[-+*/<>=~!@#%^&|`?]"
operators = set(re.findall(r"(?<!" + opchars + r")(" + opchars + r"{1,3})(?!" + opchars + r")", sql))
syntax_ops = {
    r"\bin\s*\(": ["="], r"\bany\s*\(": ["="], r"\ball\s*\(": ["=", "<>"],
    r"\bis\s+(not\s+)?distinct\s+from\b": ["="], r"\bnullif\s*\(": ["="],
    r"\bcase\s+(?!when)": ["="], r"\bnot\s+like\b": ["!~~"], r"\blike\b": ["~~"],
    r"\bilike\b": ["~~*"], r"\bbetween\b": [">=", "<="], r"\bsimilar\s+to\b": ["~"],
    r"\boverlaps\b": ["overlaps"],
}
for pattern, ops in syntax_ops.items():
    if re.search(pattern, low):
        operators.update(o for o in ops if o != "overlaps")
        if "overlaps" in ops:
            functions.add("overlaps")
syntax_funcs = {
    r"\bat\s+time\s+zone\b": ["timezone"], r"\bextract\s*\(": ["date_part", "extract"],
    r"\bsubstring\s*\(": ["substring", "substr"], r"\btrim\s*\(": ["btrim", "ltrim", "rtrim"],
    r"\bposition\s*\(": ["position", "strpos"], r"\boverlay\s*\(": ["overlay"],
    r"\bcoalesce\s*\(": [], r"\bformat\s*\(": ["format"],
    r"\bcount\s*\(\s*\*\s*\)": ["count"],
}
for pattern, fs in syntax_funcs.items():
    if re.search(pattern, low):
        functions.update(fs)
relations = set(re.findall(r"\b(?:from|join|into|update)\s+(" + ident + r")\b(?!\s*[.(])", low))

print(" ".join(sorted(functions)))
print(" ".join(sorted(types)))
print(" ".join(sorted(operators)))
print(" ".join(sorted(relations)))
