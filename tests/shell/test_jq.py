"""jq through the in-process shell (host CPython, tmp cwd)."""

# ruff: noqa: E501
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from sandlot.guest.shell import Shell


@pytest.fixture(autouse=True)
def _keep_cwd() -> object:
    old = os.getcwd()
    yield
    os.chdir(old)


def run(script: str, tmp_path: Path, stdin: bytes = b"") -> tuple[str, str, int]:
    sh = Shell(
        cwd=str(tmp_path), env={"HOME": str(tmp_path), "PATH": "/bin", "FOO": "bar"}, timeout=10
    )
    out: list[bytes] = []
    err: list[bytes] = []
    st = sh.run(script, stdin=stdin, out=out.append, err=err.append)
    return b"".join(out).decode(), b"".join(err).decode(), st


DOC = b'{"a": 1, "b": [1, 2, {"c": "x"}], "s": "Hello", "n": null}'

CASES = [
    (".a", DOC, "1"),
    (".b[2].c", DOC, '"x"'),
    (".b[-1]", DOC, '{"c":"x"}'),
    (".b[1:]", DOC, '[2,{"c":"x"}]'),
    (".missing.deeper", DOC, "null"),
    ("[.b[] | numbers]", DOC, "[1,2]"),
    (".a, .s", DOC, '1\n"Hello"'),
    ("{a, x: .s}", DOC, '{"a":1,"x":"Hello"}'),
    ("{(.s): .a}", DOC, '{"Hello":1}'),
    ("[.a, .b[0]] | add", DOC, "2"),
    ('"\\(.s) world \\(.a + 1)"', DOC, '"Hello world 2"'),
    (".a + 1, .a - 1, .a * 3, .a / 4, 7 % 3", DOC, "2\n0\n3\n0.25\n1"),
    (".a == 1 and .n == null, (.a > 2 or false), (true | not)", DOC, "true\nfalse\nfalse"),
    ('.n // "d"', DOC, '"d"'),
    ('if .a == 1 then "one" elif .a == 2 then "two" else "many" end', DOC, '"one"'),
    (".a as $x | .b | map(type) | length + $x", DOC, "4"),
    ("reduce .b[:2][] as $i (0; . + $i)", DOC, "3"),
    ("[foreach (1, 2, 3) as $x (0; . + $x)]", DOC, "[1,3,6]"),
    ("def inc(f): f + 1; def dbl($x): $x * 2; inc(.a), dbl(.a)", DOC, "2\n2"),
    ("[.. | numbers]", DOC, "[1,1,2]"),
    ("keys, (.b | length), (.s | length)", DOC, '["a","b","n","s"]\n3\n5'),
    ('has("a"), (.b | has(5))', DOC, "true\nfalse"),
    ("[paths] | length", DOC, "8"),
    ("[leaf_paths] | length", DOC, "5"),
    ("del(.b, .n)", DOC, '{"a":1,"s":"Hello"}'),
    (".b[0] |= . + 10 | .b", DOC, '[11,2,{"c":"x"}]'),
    (".a += 5 | .a", DOC, "6"),
    (".new.deep = 1 | .new", DOC, '{"deep":1}'),
    ('to_entries | map(.key) | join(",")', DOC, '"a,b,s,n"'),
    ("with_entries(select(.value != null)) | keys", DOC, '["a","b","s"]'),
    ("[3, 1, 2] | sort, min, max, reverse", b"null", "[1,2,3]\n1\n3\n[2,1,3]"),
    ('[{"k": 2}, {"k": 1}] | sort_by(.k) | map(.k)', b"null", "[1,2]"),
    ("[1, 2, 3, 4] | group_by(. % 2)", b"null", "[[2,4],[1,3]]"),
    ("[1, 2, 1, 3] | unique, (map(tostring) | unique_by(length))", b"null", '[1,2,3]\n["1"]'),
    ('[{"a": 5}, {"a": 2}] | min_by(.a).a, max_by(.a).a', b"null", "2\n5"),
    ("[range(5)], [range(1; 10; 3)]", b"null", "[0,1,2,3,4]\n[1,4,7]"),
    ("[limit(3; range(100))], first(range(5; 10)), [.[]?]", b"null", "[0,1,2]\n5\n[]"),
    ("[1, [2, [3]]] | flatten, flatten(1)", b"null", "[1,2,3]\n[1,2,[3]]"),
    ('"a,b,c" | split(","), (split(",") | join("-"))', b"null", '["a","b","c"]\n"a-b-c"'),
    (
        '"Hello" | ascii_downcase, ascii_upcase, startswith("He"), endswith("x"), ltrimstr("He"), rtrimstr("lo")',
        b"null",
        '"hello"\n"HELLO"\ntrue\nfalse\n"llo"\n"Hel"',
    ),
    (
        '"test 123 x 45" | test("\\\\d+"), [match("\\\\d+"; "g").string], capture("(?<n>\\\\d+)"), sub("\\\\d+"; "N"), gsub("\\\\d+"; "N")',
        b"null",
        'true\n["123","45"]\n{"n":"123"}\n"test N x 45"\n"test N x N"',
    ),
    ('"abc" | [splits("b")]', b"null", '["a","c"]'),
    (
        '[1, "a", null] | map(type), (.[0] | tostring), ("12" | tonumber)',
        b"null",
        '["number","string","null"]\n"1"\n12',
    ),
    ('{"a": [1, 2]} | tojson, (tojson | fromjson)', b"null", '"{\\"a\\":[1,2]}"\n{"a":[1,2]}'),
    (
        '[1, 2] | contains([1]), ("foobar" | contains("bar")), ({"a": 1} | inside({"a": 1, "b": 2}))',
        b"null",
        "true\ntrue\ntrue",
    ),
    ("[1, 2, 3] | any(. > 2), all(. > 0), (map(. > 1) | any)", b"null", "true\ntrue\ntrue"),
    ("[.[] | select(. > 1)]", b"[1, 2, 3]", "[2,3]"),
    ("map_values(. * 2)", b'{"a": 1, "b": 2}', '{"a":2,"b":4}'),
    (
        'getpath(["a", "b"]), setpath(["a", "b"]; 5), delpaths([["a"]])',
        b'{"a": {"b": 1}}',
        '1\n{"a":{"b":5}}\n{}',
    ),
    ("to_entries, (to_entries | from_entries)", b'{"x": 1}', '[{"key":"x","value":1}]\n{"x":1}'),
    ('try error("boom") catch ., (.a? // "none"), [.[]?]', b"5", '"boom"\n"none"\n[]'),
    ("floor, sqrt, (. * -1 | fabs)", b"16.5", "16\n4.06201920231798\n16.5"),
    (
        "[.[] | @base64], (.[0] | @base64 | @base64d), (. | @csv), (. | @tsv), (.[0] | @html), (.[0] | @uri), (. | @sh), (. | @json), (.[0] | @text)",
        b'["a<b&c d", "x\'y"]',
        '["YTxiJmMgZA==","eCd5"]\n"a<b&c d"\n"\\"a<b&c d\\",\\"x\'y\\""\n"a<b&c d\\tx\'y"\n"a&lt;b&amp;c d"\n"a%3Cb%26c%20d"\n"\'a<b&c d\' \'x\'\\\\\'\'y\'"\n"[\\"a<b&c d\\",\\"x\'y\\"]"\n"a<b&c d"',
    ),
    (
        "until(. > 100; . * 2), [while(. < 20; . * 3)], [recurse(if . < 3 then . + 1 else empty end)]",
        b"1",
        "128\n[1,3,9]\n[1,2,3]",
    ),
    ("nth(2; range(10)), ([range(5)] | first, last, nth(1))", b"null", "2\n0\n4\n1"),
    ("$ENV.FOO, env.FOO", b"null", '"bar"\n"bar"'),
    ("[., input]", b"1 2 3 4", "[1,2]\n[3,4]"),
    ("[inputs]", b"1 2 3", "[2,3]"),
    (". as [$a, {b: $c}] | $a + $c", b'[1, {"b": 2}]', "3"),
    ("label $out | range(10) | if . == 3 then break $out else . end", b"null", "0\n1\n2"),
    ('[splits(", *")]', b'"a, b,c"', '["a","b","c"]'),
    ('indices(", "), index(","), rindex(",")', b'"a, b, c"', "[1,4]\n1\n4"),
    ("[.[] | tostring]", b'[1, "1", [1], {"a": 1.5}]', '["1","1","[1]","{\\"a\\":1.5}"]'),
    (
        "1e1000, -1, 1.5e300, 3.0, 0.1 + 0.2, 100000000000",
        b"null",
        "1.7976931348623157e+308\n-1\n1.5e+300\n3\n0.30000000000000004\n100000000000",
    ),
    (".[] |= empty", b"[1, 2]", "[2]"),
    ('(.. | select(type == "number")) |= . + 1', b'{"a": [1, {"b": 2}]}', '{"a":[2,{"b":3}]}'),
    ('to_entries | map("\\(.key)=\\(.value)") | .[]', b'{"a": 1, "b": "x"}', '"a=1"\n"b=x"'),
    ("implode", b"[65, 66]", '"AB"'),
]


@pytest.mark.parametrize("filt,doc,expected", CASES)
def test_jq_filters(filt: str, doc: bytes, expected: str, tmp_path: Path) -> None:
    (tmp_path / "f.jq").write_text(filt)
    out, err, st = run("jq -c -f f.jq", tmp_path, doc)
    assert out == expected + "\n", err


def test_jq_pretty_output(tmp_path: Path) -> None:
    out, _, st = run("jq .", tmp_path, b'{"b":[1,{"c":[]}],"a":{}}')
    assert out == '{\n  "b": [\n    1,\n    {\n      "c": []\n    }\n  ],\n  "a": {}\n}\n'
    out, _, _ = run("jq -S --tab .", tmp_path, b'{"b":1,"a":[2]}')
    assert out == '{\n\t"a": [\n\t\t2\n\t],\n\t"b": 1\n}\n'
    assert run("jq '.[]' ", tmp_path, b'["\\u00e9", "\\u001b"]')[0] == '"é"\n"\\u001b"\n'


def test_jq_options(tmp_path: Path) -> None:
    assert run("jq -r '.[]'", tmp_path, b'["a", "b"]')[0] == "a\nb\n"
    assert run("jq -j '.[]'", tmp_path, b'["a", 1]')[0] == "a1"
    assert run("jq -n '1 + 1'", tmp_path)[0] == "2\n"
    assert run("jq -s 'add'", tmp_path, b"1 2 3")[0] == "6\n"
    assert (
        run("jq -c -n --arg x hi --argjson y '{\"a\":1}' '[$x, $y.a]'", tmp_path)[0] == '["hi",1]\n'
    )
    assert run("jq -e '.a'", tmp_path, b'{"a": false}')[2] == 1
    assert run("jq -e '.a'", tmp_path, b'{"a": 1}')[2] == 0
    assert run("jq -R .", tmp_path, b"x\ny\n")[0] == '"x"\n"y"\n'
    assert run("jq -Rs .", tmp_path, b"x\ny\n")[0] == '"x\\ny\\n"\n'
    assert run('jq -rn \'@csv "\\([1, "a"])"\'', tmp_path)[0] == '1,"a"\n'
    assert run("jq -cn '$ARGS.positional' --args a b", tmp_path)[0] == '["a","b"]\n'


def test_jq_files_and_errors(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text('{"x": 1}')
    (tmp_path / "b.json").write_text('{"x": 2}\n{"x": 3}')
    assert run("jq -c .x a.json b.json", tmp_path)[0] == "1\n2\n3\n"
    out, err, st = run("jq '.a.b'", tmp_path, b'{"a": 5}')
    assert st == 5 and "Cannot index number" in err
    out, err, st = run("jq '.['", tmp_path, b"1")
    assert st == 3 and "compile error" in err
    out, err, st = run("jq .", tmp_path, b"{bad")
    assert st == 2 and "parse" in err.lower()
    assert run("jq 'error(\"x\")'", tmp_path, b"1")[2] == 5


def test_jq_streams(tmp_path: Path) -> None:
    assert run("yes 1 | jq -c '[., input]' | head -n 2", tmp_path)[0] == "[1,1]\n[1,1]\n"
    data = json.dumps([{"i": i} for i in range(2000)]).encode()
    assert run("jq '[.[] | .i] | add'", tmp_path, data)[0] == f"{sum(range(2000))}\n"
