"""The matcher the data-driven cases use to compare what Tollgate did with what a case expects
(tests/cases/FORMAT.md, "Matching"): a want of plain YAML data is compared with a got value
(a JSON answer, an audit record, a request the stand-in GitLab received, a Redis hash field).

  scalar         equal (a got string compares with the want's text: Redis holds strings)
  "~text"        a got value whose text contains text
  "re:pattern"   a got value whose text the regular expression finds (re.search)
  "$name"        equal to a value saved earlier
  null           absent or null
  {k: want}      every key given matches (a got string is decoded as JSON first)
  [want, ...]    a list of that length whose elements match in order
  {$any: want}   some element of a list (some key of a map) matches
  {$none: want}  no element of a list (no key of a map) matches
  {$set: [...]}  a list of that length whose elements match the wants in some order
  {$len: n}      a list (map, string) of that length
  {$first: want} the first element of a list matches ($last: the last one)
  {$not: want}   does not match want
"""
import json
import re


def text(v):
    if isinstance(v, bytes):
        return v.decode(errors="replace")
    if isinstance(v, bool):
        return "true" if v else "false"
    return v if isinstance(v, str) else json.dumps(v)


def check(got, want, where, saved=None):
    """Raises AssertionError naming where and the first difference."""
    saved = saved or {}
    if isinstance(want, dict) and len(want) == 1 and next(iter(want)).startswith("$"):
        return check_operator(got, next(iter(want)), next(iter(want.values())), where, saved)
    if want is None:
        assert got is None, "%s is %r, want absent" % (where, got)
    elif isinstance(want, dict):
        if isinstance(got, (str, bytes)):
            got = json.loads(got)
        assert isinstance(got, dict), "%s is %r, want a map" % (where, got)
        for k, v in want.items():
            check(got.get(k), v, "%s.%s" % (where, k), saved)
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), "%s is %r, want %d elements" % (where, got, len(want))
        for i, (g, w) in enumerate(zip(got, want)):
            check(g, w, "%s[%d]" % (where, i), saved)
    else:
        check_scalar(got, want, where, saved)


def check_scalar(got, want, where, saved):
    if isinstance(got, bytes):
        got = got.decode(errors="replace")
    if isinstance(want, str) and want.startswith("~"):
        assert got is not None and want[1:] in text(got), "%s is %r, want it to contain %r" % (where, got, want[1:])
    elif isinstance(want, str) and want.startswith("re:"):
        assert got is not None and re.search(want[3:], text(got)), "%s is %r, want /%s/" % (where, got, want[3:])
    elif isinstance(want, str) and want.startswith("$") and want[1:] in saved:
        assert got == saved[want[1:]] or text(got) == text(saved[want[1:]]), "%s is %r, want %s" % (where, got, want)
    elif isinstance(got, (str, bytes)) and not isinstance(want, str):
        assert text(got) == text(want), "%s is %r, want %r" % (where, got, want)
    else:
        assert got == want and type(got) is type(want), "%s is %r, want %r" % (where, got, want)


def matches(got, want, saved):
    try:
        check(got, want, "", saved)
        return True
    except (AssertionError, ValueError, TypeError):
        return False


def check_operator(got, op, want, where, saved):
    items = list(got) if isinstance(got, (list, dict)) else None
    if op == "$not":
        assert not matches(got, want, saved), "%s is %r, want anything but %r" % (where, got, want)
    elif op in ("$first", "$last"):
        assert items, "%s is %r, want a %s element" % (where, got, op[1:])
        check(items[0 if op == "$first" else -1], want, "%s %s" % (where, op[1:]), saved)
    elif op == "$len":
        assert got is not None and len(got) == want, "%s is %r, want %d long" % (where, got, want)
    elif op == "$any":
        assert items is not None and any(matches(g, want, saved) for g in items), \
            "%s: no element of %r matches %r" % (where, got, want)
    elif op == "$none":
        assert items is not None and not any(matches(g, want, saved) for g in items), \
            "%s: an element of %r matches %r" % (where, got, want)
    elif op == "$set":
        assert items is not None and len(items) == len(want), "%s is %r, want %d elements" % (where, got, len(want))
        rest = list(items)
        for w in want:
            hit = next((g for g in rest if matches(g, w, saved)), None)
            assert hit is not None, "%s: no element of %r matches %r" % (where, rest, w)
            rest.remove(hit)
    else:
        raise AssertionError("%s: unknown operator %s" % (where, op))


def check_list(items, spec, where, saved=None):
    """spec over a list of records: count (n or [min, max]), first, last, all, list (in order),
    set (any order), any, none: each a want as above; at: {index: want}."""
    unknown = set(spec) - {"count", "first", "last", "all", "list", "set", "any", "none", "at"}
    assert not unknown, "%s: unknown keys %s" % (where, sorted(unknown))
    for i, want in (spec.get("at") or {}).items():
        assert len(items) > int(i), "%s: %d of them, want an element %s" % (where, len(items), i)
        check(items[int(i)], want, "%s[%s]" % (where, i), saved)
    if "count" in spec:
        n = spec["count"]
        low, high = n if isinstance(n, list) else (n, n)
        assert low <= len(items) <= high, "%s: %d of them, want %s: %r" % (where, len(items), n, items)
    for key, pick in (("first", 0), ("last", -1)):
        if key in spec:
            assert items, "%s: none, want a %s one" % (where, key)
            check(items[pick], spec[key], "%s %s" % (where, key), saved)
    for i, item in enumerate(items if "all" in spec else []):
        check(item, spec["all"], "%s[%d]" % (where, i), saved)
    if "list" in spec:
        check(items, spec["list"], where, saved)
    for op in ("set", "any", "none"):
        if op in spec:
            check(items, {"$" + op: spec[op]}, where, saved)
